"""Run a grid in parallel (joblib's loky here, or a Dask cluster); every finished run becomes a
record at once, written by this process only.

`execute(run, data_dir)` is a pure function of the run's config: it makes sure the dataset is in
the cache (fetching it once per host under a lock), loads it memory-mapped by name (once per
worker), trains with one BLAS thread, and returns the record; a failure inside becomes status
"error" instead of stopping the grid. `run_grid` saves the expanded grid, skips runs that
already have a record, and writes records as they arrive.
"""

import functools
import itertools
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import joblib
from joblib.externals.loky.process_executor import TerminatedWorkerError
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from ablations import __version__, plugins
from ablations.data.datasets import DATASETS, DatasetError, default_data_dir, load_splits
from ablations.data.idx import IdxFormatError
from ablations.grid import loaded
from ablations.grid.config import run_id
from ablations.records.schema import SCHEMA_VERSION, RecordError, trainer_result, validate
from ablations.records.store import (
    GRID_FILE,
    is_finished,
    json_text,
    migrate_records,
    read_record,
    read_records,
    record_path,
    release,
    remove_orphans,
    try_claim,
    write_json_atomic,
)
from ablations.train.streams import split_seed
from ablations.train.trainers import TRAINERS
from .progress import plain_lines


def split_key(config):
    """What a run's splits depend on: runs sorted by it share `cached_splits`' one entry."""
    return (
        config["dataset"],
        config["val_size"],
        config["train_size"],
        config["normalize"],
        split_seed(config),
    )


@functools.lru_cache(maxsize=1)  # runs are ordered by split_key, so one cached split set suffices
def cached_splits(dataset, data_dir, val_size, train_size, normalize, split_seed):
    """The run's splits, fetched first where this host's cache lacks them (a Dask worker).
    load_splits verifies the cache itself, so the fetch (a second verification) runs only when
    that fails."""

    def load():
        return load_splits(
            dataset,
            data_dir,
            val_size=val_size,
            train_size=train_size,
            normalize=normalize,
            split_seed=split_seed,
        )

    try:
        return load()
    except (DatasetError, IdxFormatError):
        DATASETS[dataset].fetch(data_dir, log=lambda line: print(line, file=sys.stderr))
        return load()


def execute(run, data_dir=None):
    """Train one run and return its record, but the fields `run_grid` adds as it writes it
    (records/schema.py). `data_dir` None: this host's default cache ($SCRATCHBENCH_DATA_DIR
    where the worker runs)."""
    config = run.config
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=1):
            dataset, *split = split_key(config)
            splits = cached_splits(dataset, str(data_dir or default_data_dir()), *split)
            result = trainer_result(**TRAINERS[config["trainer"]](config, splits))
    except Exception as err:  # isolate any failure (a plugin's malformed result too) to its run
        result = {
            "status": "error",
            "error": f"{type(err).__name__}: {err}",
            "error_frames": last_frames(err),
        }
    return {
        **error_record(run, None),
        **result,
        "wall_time_s": time.perf_counter() - start,
        "worker_peak_rss_mb": peak_rss_mb(),
    }


ERROR_FRAMES_KEPT = 5


def last_frames(err):
    """The last ERROR_FRAMES_KEPT frames of `err`'s traceback, innermost last, each
    [file, line, function]: where a failed run stopped."""
    return [
        [frame.filename, frame.lineno, frame.name]
        for frame in traceback.extract_tb(err.__traceback__)[-ERROR_FRAMES_KEPT:]
    ]


def error_record(run, error, frames=()):
    """A run's record fields known before it trains (records/schema.py); with `error`, the
    record of a failed run (its last traceback `frames`, see last_frames), but the fields
    `run_grid` adds."""
    record = {
        "schema": SCHEMA_VERSION,
        "run_id": run.run_id,
        "labels": run.labels,
        "config": run.config,
        "error": error,
    }
    if error is not None:
        record.update(status="error", wall_time_s=0.0, error_frames=list(frames))
    return record


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
    blas = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


# Written by the runner and the report, not code: the runner renaming committed records (see
# records.migrate_records) must not make the code that trains next look uncommitted.
GENERATED_FOLDERS = ("results", "reports")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # a checkout's root, or site-packages


@functools.lru_cache(maxsize=1)
def code_version():
    """The code that trains: see `checkout_version`; for an installed package (no checkout
    around it), its version."""
    root = os.fspath(PACKAGE_ROOT)
    if not os.path.isfile(os.path.join(root, "pyproject.toml")):
        return f"scratchbench {__version__}"
    return checkout_version(root)


def checkout_version(root):
    """The git commit of the checkout at `root`, with '+dirty' when a tracked file outside
    GENERATED_FOLDERS has uncommitted changes; "unknown" without git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                *(f":(exclude){folder}" for folder in GENERATED_FOLDERS),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
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


def ignore_ctrl_c():
    """Worker initializer: Ctrl-C signals the whole process group, but only the parent handles
    it (it saves what finished, then stops the workers); a worker interrupted mid-loop would
    print a traceback instead."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_worker(plugin_set):
    """Loky's worker initializer: leave Ctrl-C to the parent, end with it, import the plugins."""
    ignore_ctrl_c()
    threading.Thread(target=exit_with_parent, args=(os.getppid(),), daemon=True).start()
    plugins.load_in_worker(plugin_set)


PARENT_POLL_S = 1.0


def exit_with_parent(parent_pid):
    """A worker's watchdog: exit once the runner that started it died (SIGKILLed, it cannot
    stop its workers; loky's would wait out their idle timeout, 5 minutes, and a worker in a
    run would finish a run nobody records). The parent's death reparents the worker."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


class LokyBackend:
    """joblib's loky: `jobs` local worker processes that leave Ctrl-C to the parent, import the
    plugins (default: this process's, loaded.current()) and read the client's own dataset
    cache."""

    fetches_on_client = True

    def __init__(self, jobs, data_dir, plugin_set=None):
        self.jobs, self.data_dir = jobs, data_dir
        self.plugin_set = loaded.current() if plugin_set is None else plugin_set

    def describe(self):
        return f"{self.jobs} loky workers"

    def parallel_config(self):
        return joblib.parallel_config(
            backend="loky", n_jobs=self.jobs, initializer=start_worker, initargs=(self.plugin_set,)
        )

    def check_workers(self, configs):
        """PluginError unless the workers loaded the plugins and have every component and
        setting of `configs` (one probe per worker; run_checked guards each run besides)."""
        if self.jobs == 1:  # joblib runs in this process
            return
        with self.parallel_config():
            problems = joblib.Parallel()(
                joblib.delayed(plugins.probe)(self.plugin_set, *plugins.needs(configs))
                for _ in range(self.jobs)
            )
        if any(problems):
            raise plugins.PluginError(next(filter(None, problems)))

    def records(self, runs, execute, log):
        """`execute(run, data_dir)` for each run of the iterator `runs` (consumed lazily, just
        before each dispatch), in the order they finish.

        A worker that dies (SIGKILL, the OOM killer) breaks loky's whole pool, and with it every
        run dispatched and not yet returned: which one's worker died is unknown. Each of them is
        retried once, on a new pool, ahead of the runs not yet dispatched; a run lost in a
        second break is recorded as an error naming the workers' exit signals."""
        runs = iter(runs)
        retries, lost_before = [], set()  # runs to dispatch again; run ids lost once already
        while True:
            dispatched = {}  # run_id -> run, dispatched on this pool and not yet returned

            def dispatch(pending):
                for run in pending:
                    dispatched[run.run_id] = run
                    yield run

            try:
                with self.parallel_config():
                    for record in joblib.Parallel(return_as="generator_unordered")(
                        joblib.delayed(plugins.run_checked)(
                            self.plugin_set, execute, run, self.data_dir
                        )
                        for run in dispatch(itertools.chain(retries, runs))
                    ):
                        dispatched.pop(record["run_id"], None)
                        yield record
                return
            except TerminatedWorkerError as err:
                cause = worker_deaths(err)
                log(
                    f"a loky worker died ({cause}); retrying the {len(dispatched)} runs it may "
                    f"have held on new workers"
                )
            retries = []
            for lost_id, run in dispatched.items():
                if lost_id in lost_before:
                    yield error_record(run, f"WorkerDied: its worker died twice ({cause})")
                else:
                    lost_before.add(lost_id)
                    retries.append(run)

    def close(self):
        pass


def worker_deaths(err):
    """'killed by SIGKILL' (the signals or exit codes loky reports for a broken pool's
    workers), from a TerminatedWorkerError's message ('... The exit codes of the workers are
    {SIGKILL(-9)}')."""
    codes = re.findall(r"\b(SIG[A-Z0-9]+)\(-?\d+\)|\bEXIT\((\d+)\)", str(err))
    named = sorted({signal or f"exit code {code}" for signal, code in codes})
    return "killed by " + ", ".join(named) if named else f"{type(err).__name__}"


def save_plan(folder, runs):
    """Write the grid's runs to grid.json, unless it already holds exactly them (a rerun of an
    unchanged plan leaves the file, and so the tree, as it was)."""
    plan = [{"run_id": r.run_id, "labels": r.labels, "config": r.config} for r in runs]
    path = folder / GRID_FILE
    try:  # the text write_json_atomic would write: the same keys in the same order
        if path.read_text() == json_text(path, plan):
            return
    except (OSError, ValueError):  # absent, unreadable or not UTF-8: write it
        pass
    write_json_atomic(path, plan)


def run_grid(
    grid_name,
    runs,
    results_dir,
    data_dir,
    jobs=None,
    backend=None,
    force=False,
    only=None,
    log=print,
    progress=None,
):
    """Train every run of `runs` (or of its subset `only`) that has no record yet (all of them
    with `force`). The whole grid is saved either way, so that its report covers every run.

    backend : a LokyBackend or a cluster.DaskBackend (default: `jobs` loky workers, default one
        per core, reading `data_dir`).
    progress : `progress(n_to_train)` gives a callable fed each finished record (default: one
        line per run through `log`; see ablations/progress.py).

    Each run is claimed (an exclusive lock) just before it is dispatched and released once its
    record is written, so runners sharing a results folder split the work instead of repeating it.
    """
    backend = backend or LokyBackend(jobs or os.cpu_count(), data_dir)
    folder = results_dir / grid_name
    folder.mkdir(parents=True, exist_ok=True)
    removed = remove_orphans(folder)
    if removed:
        log(f"removed {removed} temp or lock files left by an interrupted runner")
    migrated = migrate_records(folder, run_id)
    if migrated:
        log(f"renamed {migrated} records to the current run ids (record schema {SCHEMA_VERSION})")
    save_plan(folder, runs)
    records = read_records(folder, log)
    finished = set() if force else {rid for rid, r in records.items() if is_finished(r)}
    # a run two regimes share (a tuned setting equal to the default) is listed once per regime
    wanted = runs if only is None else list({r.run_id: r for r in only}.values())
    todo = [r for r in wanted if r.run_id not in finished]
    todo.sort(key=lambda r: tuple(map(str, split_key(r.config))))
    outcome = GridOutcome(len(wanted), len(wanted) - len(todo), 0, {})
    closing = only is not None and not only  # a tuned grid's closing save: no run selected
    selection = "" if only is None or closing else f" selected (grid.json lists {len(runs)})"
    if not todo:  # the closing save counts the whole grid, finished or not
        listed = runs if closing else wanted
        done = sum(r.run_id in finished for r in listed)
        log(
            f"grid {grid_name}: {len(listed)} runs{selection}, "
            f"{'all' if done == len(listed) else done} finished; nothing to train"
        )
        return outcome
    log(
        f"grid {grid_name}: {len(wanted)} runs{selection}, {outcome.skipped} already done, "
        f"{len(todo)} to train with {backend.describe()}"
    )
    if code_version().endswith("+dirty"):
        log(
            f"warning: training from a tree with uncommitted changes ({code_version()}): these "
            f"records cannot be tied to a commit; commit first for results you will publish"
        )
    if backend.fetches_on_client:  # else each worker fetches into its own host's cache
        for name in sorted({r.config["dataset"] for r in todo}):
            DATASETS[name].fetch(data_dir, log=log)
    extra = {
        "environment": {**environment(), **loaded.environment()},
        "code_version": code_version(),
        "grid": grid_name,
    }
    held = {}  # run_id -> claim of a run dispatched and not yet recorded

    def claimed_runs():  # consumed lazily by the backend, just before each dispatch
        for run in todo:
            claim = try_claim(folder, run.run_id)
            if claim is not None and read_record(folder, run.run_id) != records.get(run.run_id):
                release(folder, run.run_id, claim)  # another runner wrote it meanwhile
                claim = None
            if claim is None:
                outcome.busy += 1
                continue
            held[run.run_id] = claim
            yield run

    show = (progress or plain_lines(log))(len(todo))
    try:
        for record in backend.records(claimed_runs(), execute, log):
            record.update(extra, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
            try:
                validate(record)
            except RecordError as err:  # never reached by today's trainers: costs its run only
                record = {
                    **error_record(next(r for r in todo if r.run_id == record["run_id"]), str(err)),
                    **extra,
                    "finished_at": record["finished_at"],
                }
            write_json_atomic(record_path(folder, record["run_id"]), record)
            release(folder, record["run_id"], held.pop(record["run_id"]))
            outcome.trained += 1
            outcome.counts[record["status"]] = outcome.counts.get(record["status"], 0) + 1
            show(record)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        show.close()
        for in_flight, claim in list(held.items()):  # free them for the next runner
            release(folder, in_flight, claim)
    if outcome.busy:
        log(f"{outcome.busy} runs were claimed or finished by another runner")
    return outcome
