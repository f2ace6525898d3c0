"""This project's own study, kept apart from the harness: `python run_all.py` loads it (as
`scratchbench --study studies` would), so its grids, the reports' declarations and its default
grids are the checkout's.

showcase.py  the fair-comparison grids (SHOWCASE, in the order `make showcase` runs them), the
             reference grids (baselines, tutorials) and the longer headline runs (long, refit)
searches.py  the frozen search rounds that chose their settings
NOTES.md     what each round measured, beside the grid it chose
replay.py    the hill climb and the sequential design replayed on the committed default records
"""

from . import searches, showcase
from .showcase import PUBLISHED_ACCURACY, SHOWCASE, SHOWCASE_BUDGET

GRIDS = {**showcase.GRIDS, **searches.GRIDS}
DEFAULT_GRIDS = ["baselines", "default"]  # the baselines first, so the default report shows them

# What each grid's report needs besides its own runs (ablations/analysis/report/needs.py): every
# report sets the reference grids beside its runs, with the tutorials' published accuracy.
REFERENCES = {"references": ["baselines", "tutorials"], "published": PUBLISHED_ACCURACY}
GAP_GRIDS = ["default", "small_data"]  # their unregularized baselines, side by side
EXTRA_NEEDS = {
    "default": {
        "generalization_gap": GAP_GRIDS,
        "seed_variance": "variance",
        "lr_sharing": "lr_by_regularization",
        "wall_time": {"name": "Showcase", "grids": SHOWCASE, **SHOWCASE_BUDGET},
    },
    "small_data": {"generalization_gap": GAP_GRIDS},
    "lr_by_regularization": {"lr_sharing": "lr_by_regularization"},
    "algoperf": {
        "anchor": {
            "title": "AlgoPerf anchor",
            "workload": "AlgoPerf's MNIST workload",
            "budget_s": 60.0,
        }
    },
}
REPORTS = {name: {**REFERENCES, **EXTRA_NEEDS.get(name, {})} for name in GRIDS}
