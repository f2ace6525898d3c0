"""Render results/<grid>/ into reports/<grid>.md, figures under reports/figures/<grid>/ and a
tidy reports/<grid>_summary.csv, from the run records alone; same records, same bytes.

frame.py     ReportData: the records loaded once into one frame (plus the cached contrast family
             and variance decomposition); seeded generators per key
contrasts.py every level against its baseline and every change between regimes, each asked
             over these settings and across settings, Holm over every test, the verdicts
claims.py    every statement of the report as a typed claim (the claims table), computed first
vocabulary.py a claim into the words the report prints (every verdict word chosen there)
findings.py  the claims rendered: the first screen's tables and the findings lines
targets.py   time to the validation target as a test (medians, Kruskal-Wallis, Holm)
sections.py  one function per section, listed in order in SECTIONS
facets.py    the figures by level (IQM and profiles, heatmaps, curves), a row per regime
plots.py     figures: take numbers, return a matplotlib Figure, never save
text.py      markdown tables and number formats
render.py    the one place that writes files
sequential_section.py  a sequential grid's looks, read back from sequential.json

Adding a section (say, learning-rate sensitivity for a tuning grid): write
`def lr_sensitivity(data) -> Section` in sections.py (or a module of its own) that reads `data`
(`data.ok`, `data.factors`, `data.levels(f)`, `data.records`, `data.configs`), computes with
ablations.analysis.stats, draws with a plots.py function, and returns
`Section(markdown, {"lr_sensitivity_mnist.png": figure})` with `figure_link(data, name)` in the
markdown; return `Section("")` when it does not apply. Then add it to SECTIONS where it should
appear, or, from a study or plugin without editing the library,
`register_section(lr_sensitivity, after="tuning")`. Bootstraps take `data.rng("lr_sensitivity", dataset, ...)` so re-renders are identical.
"""


def __getattr__(name):
    """render_report and register_section, imported on first use (PEP 562): importing a light
    submodule (needs, columns, frame) loads neither matplotlib nor the sections, so a command
    line that draws no report starts fast. Both come through render.py, which registers the
    sequential grid's section first, as an eager import of this package did."""
    if name in ("render_report", "register_section"):
        from . import render, sections

        return getattr(render if name == "render_report" else sections, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
