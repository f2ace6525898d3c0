"""Run a grid in parallel with joblib; every finished run becomes a record at once.

`execute(run, data_dir)` is a pure function of the run's config: it loads the dataset from the
memory-mapped cache by name (once per worker), trains with one BLAS thread, and returns the
record; a failure inside becomes status "error" instead of stopping the grid. `run_grid` saves
the expanded grid, skips runs that already have a record, and writes records as they arrive.
"""
import functools
import os
import platform
import resource
import signal
import subprocess
import time
from dataclasses import dataclass

import joblib
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from .config import GridError, run_id
from .datasets import DATASETS, load_splits
from .records import (GRID_FILE, SCHEMA_VERSION, is_finished, migrate_records, read_records,
                      record_path, release, remove_orphans, try_claim, write_json_atomic)
from .streams import split_seed
from .trainers import TRAINERS


@functools.lru_cache(maxsize=1)  # runs are ordered by dataset, so one cached split set suffices
def cached_splits(dataset, data_dir, val_size, train_size, normalize, split_seed):
    return load_splits(dataset, data_dir, val_size=val_size, train_size=train_size,
                       normalize=normalize, split_seed=split_seed)


def execute(run, data_dir):
    """Train one run and return its record (without environment fields)."""
    config = run.config
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=1):
            splits = cached_splits(config["dataset"], str(data_dir), config["val_size"],
                                   config["train_size"], config["normalize"],
                                   split_seed(config))
            result = TRAINERS[config["trainer"]](config, splits)
    except Exception as err:  # isolate any failure to its own run
        result = {"status": "error", "error": f"{type(err).__name__}: {err}"}
    return {"schema": SCHEMA_VERSION, "run_id": run.run_id, "labels": run.labels,
            "config": config, "error": None, **result,
            "wall_time_s": time.perf_counter() - start,
            "worker_peak_rss_mb": peak_rss_mb()}


def peak_rss_mb():
    """This process's peak resident memory so far (it may have trained earlier runs), memory-mapped
    dataset pages included. VmHWM where Linux has it: unlike ru_maxrss it does not carry over the
    parent's peak into a freshly started worker."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def environment():
    """Where the records were produced: Python, numpy, BLAS, CPU, cores."""
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"python": platform.python_version(), "numpy": np.__version__, "blas": blas,
            "cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()}


@functools.lru_cache(maxsize=1)
def code_version():
    """The git commit of this checkout, with '+dirty' when it has uncommitted changes."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


@dataclass
class GridOutcome:
    total: int
    skipped: int  # finished before this session
    trained: int
    counts: dict  # status -> number among the runs trained now
    busy: int = 0  # claimed or finished by another runner meanwhile
    interrupted: bool = False


def progress_line(done, total, start, record):
    elapsed = time.perf_counter() - start
    eta = elapsed / done * (total - done)
    result = record["status"]
    if record.get("test_acc") is not None:
        result += f" test_acc={record['test_acc']:.4f}"
    if record["status"] == "error":
        result += f" ({record['error']})"
    return (f"[{done}/{total}] {elapsed:6.0f}s elapsed, ETA {eta:5.0f}s | "
            f"{'/'.join(map(str, record['labels'].values()))}: {result} "
            f"({record['wall_time_s']:.1f}s)")


def connect_dask(scheduler):
    """A dask.distributed Client for `scheduler` (an address or a LocalCluster), or GridError."""
    try:
        from distributed import Client
    except ImportError:
        raise GridError("--backend dask needs dask.distributed: pip install "
                        "-r requirements-dev.txt") from None
    try:
        return Client(scheduler, timeout="5s")
    except (OSError, TimeoutError, ValueError) as err:
        raise GridError(f"--backend dask: no scheduler reachable at {scheduler!r} "
                        f"({type(err).__name__})") from None


def ignore_ctrl_c():
    """Worker initializer: Ctrl-C signals the whole process group, but only the parent handles
    it (it saves what finished, then stops the workers); a worker interrupted mid-loop would
    print a traceback instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def parallel_backend(backend, jobs):
    """joblib's loky backend (local processes that leave Ctrl-C to the parent), or Dask through
    the current distributed Client (made by `connect_dask`)."""
    if backend == "dask":
        return joblib.parallel_config(backend="dask")
    return joblib.parallel_config(backend="loky", n_jobs=jobs, initializer=ignore_ctrl_c)


def run_grid(grid_name, runs, results_dir, data_dir, jobs=None, backend="loky", force=False,
             only=None, log=print):
    """Train every run of `runs` (or of its subset `only`) that has no record yet (all of them
    with `force`). The whole grid is saved either way, so that its report covers every run.

    Each run is claimed (an exclusive lock) just before it is dispatched and released once its
    record is written, so runners sharing a results folder split the work instead of repeating it.
    """
    folder = results_dir / grid_name
    folder.mkdir(parents=True, exist_ok=True)
    removed = remove_orphans(folder)
    if removed:
        log(f"removed {removed} temp or lock files left by an interrupted runner")
    migrated = migrate_records(folder, run_id)
    if migrated:
        log(f"renamed {migrated} records to the current run ids (record schema {SCHEMA_VERSION})")
    write_json_atomic(folder / GRID_FILE, [
        {"run_id": r.run_id, "labels": r.labels, "config": r.config} for r in runs])
    records = read_records(folder, log)
    finished = set() if force else {rid for rid, r in records.items() if is_finished(r)}
    wanted = runs if only is None else only
    todo = [r for r in wanted if r.run_id not in finished]
    todo.sort(key=lambda r: (r.config["dataset"], str(r.config["train_size"])))
    outcome = GridOutcome(len(wanted), len(wanted) - len(todo), 0, {})
    selection = "" if only is None else f" ({len(wanted)} selected of {len(runs)})"
    log(f"grid {grid_name}: {len(wanted)} runs{selection}, {outcome.skipped} already done, "
        f"{len(todo)} to train with {jobs} {backend} workers")
    if not todo:
        return outcome
    if code_version().endswith("+dirty"):
        log(f"warning: training from a tree with uncommitted changes ({code_version()}): these "
            f"records cannot be tied to a commit; commit first for results you will publish")
    for name in sorted({r.config["dataset"] for r in todo}):
        DATASETS[name].fetch(data_dir, log=log)
    extra = {"environment": environment(), "code_version": code_version(), "grid": grid_name}
    start, started_at = time.perf_counter(), time.time()
    held = {}  # run_id -> claim of a run dispatched and not yet recorded

    def claimed_tasks():  # consumed lazily by joblib, just before each dispatch
        for run in todo:
            claim = try_claim(folder, run.run_id)
            path = record_path(folder, run.run_id)
            if claim is not None and path.exists() and path.stat().st_mtime >= started_at:
                release(folder, run.run_id, claim)  # another runner finished it meanwhile
                claim = None
            if claim is None:
                outcome.busy += 1
                continue
            held[run.run_id] = claim
            yield joblib.delayed(execute)(run, data_dir)

    try:
        with parallel_backend(backend, jobs):
            for record in joblib.Parallel(return_as="generator_unordered")(claimed_tasks()):
                record.update(extra, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
                write_json_atomic(record_path(folder, record["run_id"]), record)
                release(folder, record["run_id"], held.pop(record["run_id"]))
                outcome.trained += 1
                outcome.counts[record["status"]] = outcome.counts.get(record["status"], 0) + 1
                log(progress_line(outcome.trained, len(todo), start, record))
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        for in_flight, claim in list(held.items()):  # free them for the next runner
            release(folder, in_flight, claim)
    if outcome.busy:
        log(f"{outcome.busy} runs were claimed or finished by another runner")
    return outcome
