"""What a session will cost, said before it trains: grids, runs to train and already done, tuning
phases and the estimated wall time (budget.py's estimate from measured per-epoch rates), then one
progress display whose ETA covers every grid and phase (progress.Session).

An installed `scratchbench` run with no grid and no study named runs the built-in quick study and
says what it is and where to go next (`first_run_note`).
"""

import math
import os

from tabulate import tabulate

from .budget import REFERENCE_RATES, plan_costs, run_seconds
from .progress import Session
from .tuning import finished_records


def plan_workers(args):
    """Workers that train side by side: loky's --jobs, at most one per core (the rates were
    measured one worker per core); for Dask, the N of local:N, else unknown (None)."""
    if args.backend == "loky":
        return min(args.jobs, os.cpu_count() or 1)
    kind, _, count = (args.scheduler or "").partition(":")
    return int(count) if kind == "local" and count.isdigit() else None


def session_plan(args):
    """[budget.GridCost] of the grids `args` asks for, given the records under --results-dir."""
    grids = {name: args.grids[name] for name in args.grid}
    finished = {name: finished_records(args.results_dir / name) for name in grids}
    return plan_costs(
        grids,
        finished,
        only=args.only,
        force=args.force,
        data_dir=args.data_dir and str(args.data_dir),
    )


def wall_phrase(worker_seconds, workers):
    if workers is None:
        return f"about {worker_seconds / 60:.1f} worker minutes"
    return f"about {worker_seconds / workers / 60:.1f} min wall with {workers} workers"


def describe_plan(costs, workers):
    """The plan's lines: one row per grid, then the total with its estimate."""
    rows = [
        [
            c.name,
            len(c.runs),
            len(c.runs) - len(c.to_train),
            len(c.to_train),
            c.phases,
            f"{c.seconds / 60:.1f}",
        ]
        for c in costs
    ]
    table = tabulate(
        rows,
        headers=["grid", "runs", "done", "to train", "phases", "worker min"],
        tablefmt="github",
    )
    to_train = sum(len(c.to_train) for c in costs)
    runs = sum(len(c.runs) for c in costs)
    if not to_train:
        total = f"plan: nothing to train ({runs} runs already done)"
    else:
        total = (
            f"plan: {to_train} of {runs} runs to train, "
            f"{wall_phrase(math.fsum(c.seconds for c in costs), workers)} (from per-epoch "
            f"rates measured on {REFERENCE_RATES.n_records} reference records: "
            f"{REFERENCE_RATES.train_s:.2f} s train per epoch of 784-256-128-10 on 50,000 "
            f"images, one worker per core)"
        )
    return [*table.splitlines(), total]


def first_run_note():
    """What the quick study is, and what to run next."""
    return (
        "quick study: every optimizer x activation x regularization x dataset at a small "
        "budget (5 epochs on 10,000 images, one seed); a study of your own is "
        "`scratchbench --study FILE.py` (its grids, components and reports), and a "
        "checkout's `python run_all.py` runs this project's showcase study (studies/)"
    )


def session_progress(costs, workers, stream, log, data_dir=None):
    """A progress.Session over every run of `costs` to train."""
    share = workers or 1
    return Session(
        sum(len(c.to_train) for c in costs),
        math.fsum(c.seconds for c in costs) / share,
        lambda config: run_seconds(config, REFERENCE_RATES, data_dir) / share,
        stream,
        log,
    )
