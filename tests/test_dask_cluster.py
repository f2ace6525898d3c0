"""The Dask backend against a real deployment: `dask scheduler` and `dask worker` processes.

Workers start on an empty data folder of their own and fetch the tiny IDX dataset from a local
HTTP server (tests/dask_tiny.py); records must equal loky's; a scheduler without scratchbench is
an exit 2 within 30 s; a worker killed mid-grid loses nothing.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

import dask_tiny
from helpers import start_run_all, timeless
from test_datasets import Server
from ablations.grid.expand import expand_grid
from ablations.grid.examples import GRIDS
from ablations.data.idx import write_idx
from ablations.records.store import read_records
from ablations.run.runner import run_grid

pytest.importorskip("distributed")
try:
    version("scratchbench")
except PackageNotFoundError:
    pytest.skip(
        "scratchbench is not installed here (make setup installs it): the version check "
        "reads the package metadata",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[1]
DASK = str(Path(sys.executable).parent / "dask")
# Makes a scheduler or worker behave as one started where scratchbench is not installed: its imports fail
# and distributed's version report finds no metadata for it.
HIDE_SCRATCHBENCH = (
    "import sys; sys.modules['ablations'] = sys.modules['nn_core'] = None; "
    "import distributed.versions as v; real = v._version_cached; "
    "v._version_cached = lambda pkg: None if pkg == 'scratchbench' else real(pkg); "
)
SCHEDULER_WITHOUT_SCRATCHBENCH = (
    sys.executable,
    "-c",
    HIDE_SCRATCHBENCH + "from distributed.cli.dask_scheduler import main; main()",
)
WORKER_WITHOUT_SCRATCHBENCH = (
    sys.executable,
    "-c",
    HIDE_SCRATCHBENCH + "from distributed.cli.dask_worker import main; main()",
)
TINY_GRID = [
    {
        "base": {"dataset": dask_tiny.NAME, "hidden": [8], "epochs": 3, "batch_size": 16},
        "axes": {"seed": [0, 1, 2, 3]},
    }
]
KILL_GRID = [
    {
        "base": {"dataset": "digits", "hidden": [64], "epochs": 25, "batch_size": 16},
        "axes": {
            "optimizer": [{"optimizer": "sgd", "lr": 0.05}, {"optimizer": "adam", "lr": 1e-3}],
            "seed": [0, 1, 2, 3, 4, 5],
        },
    }
]


def quiet(_line):
    pass


def records(folder):
    return {rid: timeless(r) for rid, r in read_records(folder, quiet).items()}


class Deployment:
    """A scheduler process and worker processes on 127.0.0.1, stopped at the end."""

    def __init__(self, tmp_path, env):
        self.tmp_path, self.env, self.procs = tmp_path, {**os.environ, **env}, []

    def scheduler(self, command=(DASK, "scheduler")):
        path = self.tmp_path / "scheduler.json"
        self._start(
            [
                *command,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(path),
            ],
            "scheduler",
        )
        deadline = time.time() + 30
        while not path.exists() or not path.read_text().strip():
            assert time.time() < deadline, "the scheduler did not start in 30 s"
            time.sleep(0.1)
        self.address = json.loads(path.read_text())["address"]
        return self.address

    def worker(self, data_dir, command=(DASK, "worker")):
        """A worker process; with scratchbench, it preloads the tiny dataset's registration."""
        preload = ["--preload", str(Path(dask_tiny.__file__))] if command[0] == DASK else []
        return self._start(
            [*command, self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard", *preload],
            "worker",
            SCRATCHBENCH_DATA_DIR=str(data_dir),
        )

    def connect(self, threads):
        """A checked DaskBackend, once `threads` worker threads have joined."""
        from ablations.run.cluster import connect

        backend = connect(self.address)
        deadline = time.time() + 30
        while backend.threads() < threads:
            assert time.time() < deadline, f"{threads} worker threads did not join in 30 s"
            time.sleep(0.1)
        return backend

    def _start(self, args, name, **env):
        log = open(self.tmp_path / f"{name}-{len(self.procs)}.log", "w")
        proc = subprocess.Popen(
            args, env={**self.env, **env}, stdout=log, stderr=log, cwd=self.tmp_path
        )
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:  # nothing of theirs is kept: no need for a graceful close
            proc.kill()
            proc.wait()


@pytest.fixture
def served(tmp_path):
    """The tiny dataset's gzipped IDX files behind a local HTTP server that counts GETs."""
    folder = tmp_path / "www"
    folder.mkdir()
    for key, array in dask_tiny.arrays().items():
        write_idx(folder / f"{dask_tiny.files()[key].name}.gz", array)
    with Server(folder) as server:
        handler = server.httpd.RequestHandlerClass
        server.gets = []
        real_get = handler.do_GET

        def counting_get(self):
            server.gets.append(self.path)
            real_get(self)

        handler.do_GET = counting_get
        dask_tiny.register(server.url)
        yield server


@pytest.fixture
def deployment(tmp_path, served):
    deployment = Deployment(tmp_path, {dask_tiny.MIRROR_ENV: served.url})
    yield deployment
    deployment.stop()


def test_workers_fetch_into_their_own_cache_once_per_host_and_match_loky(
    tmp_path, deployment, served, data_dir
):
    address = deployment.scheduler()
    worker_data = tmp_path / "worker-data"  # one host: both workers share its cache
    deployment.worker(worker_data), deployment.worker(worker_data)
    backend = deployment.connect(threads=2)
    try:
        outcome = run_grid(
            "tiny",
            expand_grid("tiny", TINY_GRID),
            tmp_path / "results",
            data_dir,
            backend=backend,
            log=quiet,
        )
    finally:
        backend.close()
    assert outcome.counts == {"ok": 4}
    assert len(served.gets) == 4, served.gets  # four files, fetched once for the host
    assert (worker_data / dask_tiny.NAME / "train_images.npy").is_file()
    assert not list(data_dir.iterdir())  # the client fetched nothing
    # The smoke grid through the command line, as a user runs it: the same records as loky.
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_all.py"),
            "--grid",
            "smoke",
            "--scheduler",
            address,
            "--results-dir",
            str(tmp_path / "dask"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "[8/8]" in result.stderr
    smoke = expand_grid("smoke", GRIDS["smoke"])
    run_grid("smoke", smoke, tmp_path / "loky", data_dir, jobs=1, log=quiet)
    assert records(tmp_path / "dask" / "smoke") == records(tmp_path / "loky" / "smoke")


def test_a_worker_killed_mid_grid_loses_nothing(tmp_path, deployment, data_dir):
    deployment.scheduler()
    victim = deployment.worker(tmp_path / "a")
    deployment.worker(tmp_path / "b")
    runs = expand_grid("kill", KILL_GRID)
    backend = deployment.connect(threads=2)
    try:
        seen = []

        def kill_on_first_record(total):
            def show(record):
                seen.append(record["run_id"])
                if len(seen) == 1:
                    victim.send_signal(signal.SIGKILL)

            show.close = lambda: None
            return show

        outcome = run_grid(
            "kill",
            runs,
            tmp_path / "dask",
            data_dir,
            backend=backend,
            log=quiet,
            progress=kill_on_first_record,
        )
    finally:
        backend.close()
    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert outcome.trained == len(runs) == len(seen) == len(set(seen))  # each recorded once
    run_grid("kill", runs, tmp_path / "loky", data_dir, jobs=2, log=quiet)
    got = records(tmp_path / "dask" / "kill")
    assert got == records(tmp_path / "loky" / "kill")
    assert all(r["status"] == "ok" for r in got.values())


def test_a_scheduler_without_scratchbench_is_exit_2_within_30_s(tmp_path, deployment):
    address = deployment.scheduler(SCHEDULER_WITHOUT_SCRATCHBENCH)
    deployment.worker(tmp_path / "worker-data")
    start = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_all.py"),
            "--grid",
            "smoke",
            "--scheduler",
            address,
            "--results-dir",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert time.monotonic() - start < 30
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "the scheduler cannot import scratchbench; install it there" in lines[0]
    assert not (tmp_path / "results").exists()


def test_ctrl_c_with_a_local_cluster_keeps_finished_runs_and_the_same_command_resumes(
    tmp_path, data_dir
):
    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"kill": KILL_GRID}))
    args = [
        "--grid-file",
        str(grid_file),
        "--grid",
        "kill",
        "--scheduler",
        "local:2",
        "--results-dir",
        str(tmp_path / "dask"),
        "--reports-dir",
        str(tmp_path / "reports"),
    ]
    runner = start_run_all(*args, cwd=tmp_path)
    folder = tmp_path / "dask" / "kill"
    deadline = time.time() + 60
    while sum(p.name != "grid.json" for p in folder.glob("*.json")) < 2:
        assert time.time() < deadline and runner.poll() is None
        time.sleep(0.05)
    os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: workers included
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130, stderr
    assert "run the same command to resume" in stderr and "Traceback" not in stderr
    kept = len(read_records(folder, quiet))
    assert 2 <= kept < len(expand_grid("kill", KILL_GRID))
    resumed = start_run_all(*args, cwd=tmp_path)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"{kept} already done" in stderr
    run_grid("kill", expand_grid("kill", KILL_GRID), tmp_path / "loky", data_dir, jobs=2, log=quiet)
    assert records(folder) == records(tmp_path / "loky" / "kill")


def test_two_clients_on_one_results_folder_train_each_run_once(tmp_path, deployment):
    address = deployment.scheduler()
    deployment.worker(tmp_path / "a"), deployment.worker(tmp_path / "b")
    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"kill": KILL_GRID}))
    args = [
        "--grid-file",
        str(grid_file),
        "--grid",
        "kill",
        "--scheduler",
        address,
        "--results-dir",
        str(tmp_path / "shared"),
        "--reports-dir",
        str(tmp_path / "reports"),
    ]
    clients = [start_run_all(*args, cwd=tmp_path), start_run_all(*args, cwd=tmp_path)]
    outputs = [c.communicate(timeout=300)[1] for c in clients]
    assert [c.returncode for c in clients] == [0, 0], outputs
    trained = [re.findall(r"^\[\d+/\d+\] .*? \| (\S+):", out, re.M) for out in outputs]
    assert len(trained[0]) + len(trained[1]) == len(expand_grid("kill", KILL_GRID))
    assert not set(trained[0]) & set(trained[1])


def test_a_worker_without_scratchbench_is_named(tmp_path, deployment):
    from ablations.run.cluster import connect
    from ablations.grid.config import GridError

    deployment.scheduler()
    deployment.worker(tmp_path / "w", WORKER_WITHOUT_SCRATCHBENCH)
    with pytest.raises(
        GridError,
        match=r"worker tcp://127\.0\.0\.1:\d+ cannot import scratchbench; "
        r"install it there",
    ):
        connect(deployment.address)


def test_no_worker_is_a_timeout_with_the_command_that_starts_one(deployment):
    from ablations.run.cluster import connect
    from ablations.grid.config import GridError

    address = deployment.scheduler()
    start = time.monotonic()
    with pytest.raises(
        GridError, match="no worker joined the scheduler .* within 2 s; start one: dask worker"
    ):
        connect(address, timeout_s=2)
    assert time.monotonic() - start < 10


def test_the_heartbeat_traceback_is_dropped_only_while_its_worker_closes():
    """distributed's Worker.close closes its connections under a heartbeat in flight, which then
    logs HEARTBEAT_FAILED with a traceback (test_ctrl_c_... saw it under load): dropped while
    that worker closes; the same failure while it runs (a lost scheduler) and every other
    record pass."""
    import logging
    from types import SimpleNamespace

    from distributed.core import Status

    from ablations.run.cluster import HEARTBEAT_FAILED, HeartbeatAtClose, quiet_heartbeat_at_close

    def record(message):
        return logging.LogRecord("distributed.worker", logging.ERROR, "", 0, message, (), None)

    worker = SimpleNamespace(status=Status.running)
    drops = HeartbeatAtClose(worker)
    assert drops.filter(record(HEARTBEAT_FAILED))  # running: a real loss of the scheduler
    for status in (Status.closing, Status.closed):
        worker.status = status
        assert not drops.filter(record(HEARTBEAT_FAILED))
        assert drops.filter(record("Unexpected exception during heartbeat. Closing worker."))
    logger = logging.getLogger("distributed.worker")
    before = list(logger.filters)
    try:
        quiet_heartbeat_at_close().setup(worker)
        (added,) = [f for f in logger.filters if f not in before]
        assert isinstance(added, HeartbeatAtClose) and added.worker is worker
    finally:
        logger.filters[:] = before


def test_a_ctrl_c_while_distributed_waits_is_held_then_acts_in_our_code():
    """distributed's sync() answers a KeyboardInterrupt that lands before its coroutine started
    with a NameError traceback (test_ctrl_c_... saw it under load): DaskBackend.records holds
    Ctrl-C and SIGTERM while it waits, and delivers the first where it can take it."""
    from ablations.run.cluster import HeldSignals

    def term(signum, frame):
        raise SystemExit("term")

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, term)
    try:
        held = HeldSignals().start()
        os.kill(os.getpid(), signal.SIGINT)  # raises nothing here: held
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert held.caught == [signal.SIGINT, signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            held.deliver()  # the first, through the handler it replaced
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is term
        quiet_one = HeldSignals().start()
        quiet_one.deliver()  # nothing came: nothing raised
        quiet_one.stop()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
