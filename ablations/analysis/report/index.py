"""reports/index.md: every report in one page, so no figure is ever copied into the README by hand.

One entry per report in the folder (a `<grid>.md` whose first line is the report title that
sections.verdicts writes; the `<grid>_cells.md` companions and this index are not reports),
sorted by grid name. Each entry is a link, the report's first screen verbatim (its title and
verdicts: every line before its first `## ` heading or its first figure link) and, where that
screen has no table, the headline table of its *Summary* (the best configuration per dataset on
validation) with the sentence that introduces it, again verbatim. Nothing is recomputed: the
index is cut from the reports' own text, so the same reports give the same bytes.
"""

from pathlib import Path

TITLE = "# scratchbench report: grid `"  # the first line of every report (sections.verdicts)
SUMMARY = "## Summary"
INDEX = "index.md"
HEADER = """# scratchbench reports

Generated from the reports in this folder (`ablations/analysis/report/index.py`, written after
every render: `scratchbench --report-only`, with the `--study` that defines the grids; in a
checkout `python run_all.py --report-only`); never edit it by hand. Per grid, in name order: a
link to its report, the report's first screen (its verdicts and best configuration on
validation, as the report words them) and, below it, the headline table of its *Summary*.
"""


def first_screen(lines):
    """The lines before the first `## ` heading or figure link `![`, trailing blanks dropped."""
    end = next((i for i, line in enumerate(lines) if line.startswith(("## ", "!["))), len(lines))
    screen = lines[:end]
    while screen and not screen[-1].strip():
        screen.pop()
    return screen


def headline_table(lines):
    """The first markdown table of the Summary section with the paragraph just above it (its
    caption), or [] where the report has none."""
    if SUMMARY not in lines:
        return []
    section = lines[lines.index(SUMMARY) + 1 :]
    section = section[
        : next((i for i, line in enumerate(section) if line.startswith("## ")), len(section))
    ]
    start = next((i for i, line in enumerate(section) if line.startswith("|")), None)
    if start is None:
        return []
    end = next(
        (i for i in range(start, len(section)) if not section[i].startswith("|")), len(section)
    )
    caption = [line for line in section[:start] if line.strip()][-1:]
    return [*caption, *[""] * len(caption), *section[start:end]]


def entry(path):
    """The index's markdown for the report at `path`, or None where the file is no report."""
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith(TITLE):
        return None
    screen = first_screen(lines)
    table = [] if any(line.startswith("|") for line in screen) else headline_table(lines)
    parts = [f"[reports/{path.name}]({path.name})", "\n".join(screen)]
    return "\n\n".join(parts + (["\n".join(table)] if table else []))


def write_index(reports_dir):
    """Write reports_dir/index.md from the reports there (sorted by file name) and return its
    path; an empty folder gives the header alone."""
    reports_dir = Path(reports_dir)
    entries = [
        e
        for path in sorted(reports_dir.glob("*.md"))
        if path.name != INDEX
        for e in [entry(path)]
        if e is not None
    ]
    path = reports_dir / INDEX
    path.write_text("\n\n---\n\n".join([HEADER.rstrip(), *entries]) + "\n")
    return path
