"""The one place that writes report files: reports/<grid>.md, reports/<grid>_summary.csv, the
files sections add beside them (the contrast tables), and reports/figures/<grid>/*.png (PNG
without a version stamp, so re-renders are byte-identical; figures of this grid that no section
drew any more are removed)."""

import multiprocessing
import os
import signal
from pathlib import Path

from threadpoolctl import threadpool_limits

from ablations.data.datasets import default_data_dir
from .frame import load_data
from . import sequential_section  # noqa: F401  (registers the sequential grid's section)
from .needs import ReportNeeds
from .sections import SECTIONS

PNG = {"dpi": 100, "metadata": {"Software": None}}


def render_report(grid, results_dir, reports_dir, data_dir=None, needs=ReportNeeds()):
    """Write the report of `grid` (with what `needs` declares; misclassified images read from
    `data_dir`, default default_data_dir()) and return the markdown's path."""
    data = load_data(grid, results_dir, data_dir or default_data_dir(), needs)
    # One BLAS thread: the bootstrap products are small (10,000 x a few hundred), and on this
    # 2-core machine a second thread cost more than it gave (contrasts 1.9 s against 0.95 s).
    with threadpool_limits(1):
        sections = [section(data) for section in SECTIONS]
    reports_dir = Path(reports_dir)
    folder = reports_dir / "figures" / grid
    folder.mkdir(parents=True, exist_ok=True)
    figures = {name: figure for section in sections for name, figure in section.figures.items()}
    save_figures(figures, folder)
    for stale in folder.glob("*.png"):
        if stale.name not in figures:
            stale.unlink()
    for section in sections:
        for name, text in section.files.items():
            (reports_dir / name).write_text(text)
    data.df.drop(columns=["finished_at"]).to_csv(reports_dir / f"{grid}_summary.csv", index=False)
    path = reports_dir / f"{grid}.md"
    path.write_text("\n\n".join(s.markdown for s in sections if s.markdown) + "\n")
    return path


def save_figures(figures, folder):
    """Draw and write each figure ({file name: Figure}) into `folder`. Drawing is most of a
    report's time, and each figure is drawn alone, so on a machine with several cores the
    figures are split between forked processes (which inherit them: nothing is pickled); the
    bytes are the same either way."""
    names = sorted(figures)
    workers = min(len(names), os.cpu_count() or 1)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for name in names:
            figures[name].savefig(folder / name, **PNG)
        return
    global _TO_SAVE
    _TO_SAVE = (figures, folder)
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals)
    try:
        pool.map(_save_one, names, chunksize=1)
    finally:
        pool.close()  # the workers end when their work does: never signalled
        pool.join()
        _TO_SAVE = None


_TO_SAVE = None  # (figures, folder) of the save_figures call in progress, for its forked workers


def _default_signals():
    """A forked worker drops the handlers it inherited (the command line's SIGTERM handler)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _save_one(name):
    figures, folder = _TO_SAVE
    figures[name].savefig(folder / name, **PNG)
