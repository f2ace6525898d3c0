"""What a grid's report needs besides its own runs, declared by the study that defines the grid
(a study's `REPORTS = {grid name: {...}}`, a grid file's "reports"): the report knows no grid by
name. Every key is optional; a grid without a declaration gets none of these sections.

references          grids whose runs the "Baselines" section sets beside this one (same splits,
                    same harness), in order
published           {level label: published test accuracy (0-1)} shown beside a reference
                    grid's row of that label
generalization_gap  grids whose unregularized baselines the "Generalization gap" section sets
                    side by side (this grid among them for its own rows)
seed_variance       the grid whose runs vary one seed stream at a time (its `varied` axis),
                    attributed in this report; a grid with that axis shows its own without it
lr_sharing          the grid that trains each regularizer at every lr candidate, for "Does the
                    shared lr cost the regularizers?" and the caveat beside each verdict
anchor              {"title", "workload", "budget_s"}: an external time-to-target anchor (the
                    median seconds to the validation target set beside the workload's budget)
wall_time           {"name", "grids", "minutes", "why"}: the header line measuring a whole study
                    (the tuning and final runs of `grids`) against its wall-time budget
"""

from dataclasses import dataclass, field, fields


class NeedsError(ValueError):
    """A report declaration names an unknown key or has a value of the wrong shape (one line)."""


@dataclass(frozen=True)
class ReportNeeds:
    references: tuple = ()
    published: dict = field(default_factory=dict)
    generalization_gap: tuple = ()
    seed_variance: str = None
    lr_sharing: str = None
    anchor: dict = None
    wall_time: dict = None


SHAPES = {f.name: f.type for f in fields(ReportNeeds)}  # a tuple is declared as a JSON list
PARTS = {
    "anchor": {"title", "workload", "budget_s"},
    "wall_time": {"name", "grids", "minutes", "why"},
}


def report_needs(grid, declared):
    """The ReportNeeds of `grid` from its declaration (a dict; None: nothing declared), or a
    NeedsError naming the grid, the key and the valid choices."""
    declared = dict(declared or {})
    for key, value in declared.items():
        if key not in SHAPES:
            raise NeedsError(
                f"report of grid {grid!r}: unknown key {key!r}; valid keys: {', '.join(SHAPES)}"
            )
        shape = SHAPES[key]
        if not isinstance(value, (list, tuple) if shape is tuple else shape):
            raise NeedsError(
                f"report of grid {grid!r}: {key} must be a "
                f"{'list' if shape is tuple else shape.__name__}, got {value!r}"
            )
        if key in PARTS and set(value) != PARTS[key]:
            raise NeedsError(
                f"report of grid {grid!r}: {key} needs exactly the keys "
                f"{', '.join(sorted(PARTS[key]))}, got {', '.join(sorted(value))}"
            )
    return ReportNeeds(
        **{key: tuple(value) if SHAPES[key] is tuple else value for key, value in declared.items()}
    )
