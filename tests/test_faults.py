"""A fault costs at most its own run: non-finite metrics, trainers that fail, workers that die,
records and locks that cannot be trusted. Each case: the fault, then the record or line it
must give, and that every other run finished as in an uninterrupted grid."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import run_all
from helpers import main_in_process, run_all_process, synthetic_record, timeless
from ablations.grid.expand import expand_grid
from ablations.records.store import read_records
from ablations.run import runner
from ablations.run.runner import run_grid
from ablations.train.trainers import TRAINERS, Trainer, train_nn_core

ROOT = Path(__file__).resolve().parents[1]
TINY = {"dataset": "digits", "hidden": [16], "epochs": 3, "batch_size": 64}
TINY_GRID = [{"base": TINY, "axes": {"seed": [0, 1]}}]  # the grid `tiny`: TINY on seeds 0 and 1


def tiny_command(tmp_path, data_dir, *extra):
    """run_all's arguments for the grid `tiny` from a grid file written in tmp_path, results and
    reports there, datasets from data_dir, then `extra`."""
    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"tiny": TINY_GRID}))
    return [
        *("--grid-file", str(grid_file), "--grid", "tiny"),
        *("--results-dir", str(tmp_path / "results"), "--reports-dir", str(tmp_path / "reports")),
        *("--data-dir", str(data_dir), *extra),
    ]


FAULTY = "faulty"  # the trainer each case below registers (in this process: --jobs 1)
GRID = [{"base": TINY, "axes": {"trainer": ["nn_core", FAULTY], "seed": [0, 1]}}]


def quiet(_line):
    pass


def with_nan(split):
    def train(config, splits):
        X = getattr(splits, split).copy()
        X[0, 0] = np.nan  # one pixel
        return train_nn_core(config, dataclasses.replace(splits, **{split: X}))

    return train


def returning(**changes):
    def train(config, splits):
        return {**train_nn_core(config, splits), **changes}

    return train


def raising(config, splits):
    return {}["mom"]  # a plugin's slip, as in issue 26


# fault (the faulty trainer) -> status of its runs, what their record says
FAULTS = [
    ("nan pixel in x_train", with_nan("X_train"), "diverged", None),
    ("nan pixel in x_val", with_nan("X_val"), "diverged", None),
    (
        "nan in a trainer's test_acc",
        returning(test_acc=float("nan")),
        "error",
        "RecordError: trainer result: field 'test_acc' is nan, expected float or None",
    ),
    (
        "inf in a trainer's train_time_s",
        returning(train_time_s=float("inf")),
        "error",
        "field 'train_time_s' is inf",
    ),
    (
        "inf in a trainer's curve",
        returning(history={"train_loss": [0.5, float("inf")], "val_acc": [0.1, 0.2]}),
        "diverged",
        None,
    ),
    ("a trainer that raises", raising, "error", "KeyError: 'mom'"),
]


def refuse_nan(text):
    raise AssertionError(f"{text} written in a record")


def load_strict(path):
    return json.loads(path.read_text(), parse_constant=refuse_nan)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The nn_core runs of GRID, trained without a fault."""
    folder = tmp_path_factory.mktemp("clean")
    data = folder / "data"
    data.mkdir()
    runs = expand_grid("g", [{**GRID[0], "axes": {**GRID[0]["axes"], "trainer": ["nn_core"]}}])
    run_grid("g", runs, folder, data, jobs=1, log=quiet)
    return {rid: timeless(r) for rid, r in read_records(folder / "g", quiet).items()}


@pytest.mark.parametrize("name,train,status,message", FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_in_one_run_costs_only_that_run(
    tmp_path, data_dir, monkeypatch, clean, name, train, status, message
):
    monkeypatch.setitem(TRAINERS, FAULTY, Trainer(train))
    runs = expand_grid("g", GRID)
    outcome = run_grid("g", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert outcome.trained == 4 and outcome.counts.get(status) == 2
    for path in (tmp_path / "g").glob("*.json"):
        load_strict(path)  # never a NaN or Infinity on disk
    got = read_records(tmp_path / "g", quiet)
    faulty = [r for r in got.values() if r["config"]["trainer"] == FAULTY]
    assert len(got) == 4 and all(r["status"] == status for r in faulty)
    if message is not None:
        assert all(message in r["error"] for r in faulty), faulty[0]["error"]
        assert all(
            r["error_frames"] and len(frame) == 3 for r in faulty for frame in r["error_frames"]
        )
    assert {
        rid: timeless(r) for rid, r in got.items() if r["config"]["trainer"] == "nn_core"
    } == clean
    again = run_grid("g", runs, tmp_path, data_dir, jobs=1, log=quiet)  # the rerun, no crash
    assert again.trained == (2 if status == "error" else 0)


def test_an_error_record_names_the_file_line_and_function_it_stopped_in(
    tmp_path, data_dir, monkeypatch
):
    monkeypatch.setitem(TRAINERS, FAULTY, Trainer(raising))
    runs = [r for r in expand_grid("g", GRID) if r.config["trainer"] == FAULTY][:1]
    run_grid("g", runs, tmp_path, data_dir, jobs=1, log=quiet)
    record = read_records(tmp_path / "g", quiet)[runs[0].run_id]
    file, line, function = record["error_frames"][-1]
    assert (Path(file).name, function) == ("test_faults.py", "raising") and line > 0


def test_the_command_ends_with_a_line_counting_failures_and_exits_1_on_an_error(
    tmp_path, data_dir, monkeypatch, capsys
):
    monkeypatch.setitem(TRAINERS, FAULTY, Trainer(raising))
    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"g": GRID}))
    code = run_all.main(
        [
            "--grid-file",
            str(grid_file),
            "--grid",
            "g",
            "--jobs",
            "1",
            "--results-dir",
            str(tmp_path / "results"),
            "--reports-dir",
            str(tmp_path / "reports"),
            "--data-dir",
            str(data_dir),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("4 runs trained: 2 errors, 0 diverged"), err[-3:]
    assert "Traceback" not in "\n".join(err)


def loky_workers():
    """Pids of this process's loky worker processes (not its resource tracker)."""
    children = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children += (task / "children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"popen_loky" in Path(f"/proc/{pid}/cmdline").read_bytes()
        and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


KILL_GRID = [
    {"base": {**TINY, "epochs": 25}, "axes": {"optimizer": ["sgd", "adam"], "seed": [0, 1, 2]}}
]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_a_sigkilled_loky_worker_costs_a_retry_and_the_grid_finishes_as_uninterrupted(
    tmp_path, data_dir
):
    runs = expand_grid("kill", KILL_GRID)
    killed = []

    def kill_on_first_record(total):
        def show(record):
            if not killed:
                killed.append(loky_workers()[0])
                os.kill(killed[0], signal.SIGKILL)  # what the OOM killer does

        show.close = lambda: None
        return show

    log = []
    outcome = run_grid(
        "kill",
        runs,
        tmp_path / "killed",
        data_dir,
        jobs=2,
        log=log.append,
        progress=kill_on_first_record,
    )
    assert killed and outcome.trained == len(runs) and outcome.counts == {"ok": len(runs)}
    assert any("a loky worker died (killed by SIGKILL)" in line for line in log), log
    run_grid("kill", runs, tmp_path / "clean", data_dir, jobs=1, log=quiet)
    got = {rid: timeless(r) for rid, r in read_records(tmp_path / "killed" / "kill", quiet).items()}
    assert got == {
        rid: timeless(r) for rid, r in read_records(tmp_path / "clean" / "kill", quiet).items()
    }


class TwiceDied(Exception):
    def __str__(self):
        return (
            "A worker process managed by the executor was unexpectedly terminated. The "
            "exit codes of the workers are {SIGKILL(-9)}"
        )


def test_a_run_whose_worker_dies_twice_is_an_error_naming_the_signal():
    assert runner.worker_deaths(TwiceDied()) == "killed by SIGKILL"


# A trainer plugin that SIGKILLs its own worker process in the middle of a run (what the OOM
# killer does): seed 1 on its first try only, seed 2 on every try.
DYING_TRAINER = """\
import os
import signal
from pathlib import Path

from ablations.train.trainers import register_trainer, train_nn_core

MARKS = Path({marks!r})


@register_trainer("dies")
def train_or_die(config, splits):
    mark = MARKS / f"seed{{config['seed']}}"
    if config["seed"] == 2 or (config["seed"] == 1 and not mark.exists()):
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return train_nn_core(config, splits)
"""


def test_a_dask_worker_killed_in_a_run_costs_a_retry_then_an_error_naming_the_signal(
    tmp_path, data_dir
):
    """On a local Dask cluster (nannies restart a dead worker), with allowed-failures 0 so that
    each death is a KilledWorker at once. Grid `once`: seed 1's worker is killed on its first
    try; every run that worker held is retried and trains as an uninterrupted run. Grid
    `always` (alone, so that no other run shares its workers): the run killed on every try is
    one error record naming SIGKILL, and the command goes on to its end."""
    pytest.importorskip("distributed")
    (tmp_path / "dying.py").write_text(DYING_TRAINER.format(marks=str(tmp_path)))
    dying = {**TINY, "trainer": "dies"}
    grids = {
        "once": [{"base": dying, "axes": {"seed": [0, 1]}}],
        "always": [{"base": {**dying, "seed": 2}}],
    }
    (tmp_path / "grids.json").write_text(json.dumps(grids))
    result = run_all_process(
        "--plugin",
        "./dying.py",
        *("--grid-file", "grids.json", "--grid", "once", "--grid", "always"),
        *("--scheduler", "local:2", "--results-dir", "results", "--reports-dir", "reports"),
        cwd=tmp_path,
        data_dir=data_dir,
        DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0",
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert lines[-1].startswith("3 runs trained: 1 errors, 0 diverged"), lines[-3:]
    assert "Traceback" not in result.stderr
    assert any("died (killed by SIGKILL); retrying it once" in line for line in lines), lines
    once = {
        r["config"]["seed"]: r for r in read_records(tmp_path / "results" / "once", quiet).values()
    }
    assert once[0]["status"] == once[1]["status"] == "ok"
    (always,) = read_records(tmp_path / "results" / "always", quiet).values()
    assert always["status"] == "error"
    assert always["error"].startswith(
        "WorkerDied: its dask workers died twice over (killed by SIGKILL)"
    ), always["error"]
    clean = expand_grid("clean", [{"base": TINY, "axes": {"seed": [0, 1]}}])
    run_grid("clean", clean, tmp_path / "clean", data_dir, jobs=1, log=quiet)
    for reference in read_records(tmp_path / "clean" / "clean", quiet).values():
        got = once[reference["config"]["seed"]]  # trained as if never killed
        assert [got[k] for k in ("test_acc", "test_loss", "best_val_acc", "epochs_run")] == [
            reference[k] for k in ("test_acc", "test_loss", "best_val_acc", "epochs_run")
        ]
        assert timeless(got)["history"] == timeless(reference)["history"]


def test_a_sigkilled_runner_leaves_no_loky_worker_behind(tmp_path):
    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"kill": KILL_GRID}))
    folder = tmp_path / "results" / "kill"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run_all.py"),
            "--grid-file",
            str(grid_file),
            "--grid",
            "kill",
            "--jobs",
            "2",
            "--results-dir",
            str(folder.parent),
            "--reports-dir",
            str(tmp_path / "rep"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while (
            not any(p.name != "grid.json" for p in folder.glob("*.json")) and time.time() < deadline
        ):
            time.sleep(0.05)
        proc.kill()  # the runner alone: its workers are orphaned
        proc.wait()
        deadline = time.time() + 15
        while time.time() < deadline:
            os.killpg(proc.pid, 0)  # its session's process group: the workers, their trackers
            time.sleep(0.2)
        pytest.fail("loky workers outlived their runner by 15 s")
    except ProcessLookupError:
        pass
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# what is on disk -> the line the runner says; then its run trains again
BAD_RECORDS = [
    ("history removed by hand", lambda r: r.pop("history"), "field 'history' is missing"),
    ("status bogus", lambda r: r.update(status="bogus"), "field 'status' is 'bogus'"),
    ("truncated json", None, "not JSON"),
    ("a NaN by hand", lambda r: r.update(test_acc=float("nan")), "field 'test_acc' is nan"),
]


@pytest.mark.parametrize("name,change,message", BAD_RECORDS, ids=[b[0] for b in BAD_RECORDS])
@pytest.mark.parametrize("reader", ["runner", "report"])
def test_an_invalid_record_is_set_aside_and_retrained_wherever_it_is_read(
    tmp_path, data_dir, capsys, name, change, message, reader
):
    runs = expand_grid("tiny", TINY_GRID)
    args = tiny_command(tmp_path, data_dir, "--jobs", "1")
    assert run_all.main(args) == 0
    victim = tmp_path / "results" / "tiny" / f"{runs[0].run_id}.json"
    if change is None:
        victim.write_text(victim.read_text()[:100])
    else:
        record = json.loads(victim.read_text())
        change(record)
        victim.write_text(json.dumps(record))  # NaN written as json does by default
    capsys.readouterr()
    code = run_all.main(args + (["--report-only"] if reader == "report" else []))
    out = capsys.readouterr()
    said = [line for line in (out.out + out.err).splitlines() if "corrupt record" in line]
    assert code == 0 and len(said) == 1 and message in said[0] and "set aside" in said[0], said
    assert victim.with_suffix(".json.corrupt").exists()
    if reader == "report":
        assert not victim.exists()
        assert run_all.main(args) == 0  # the next training retrains it
    assert json.loads(victim.read_text())["status"] == "ok"


def test_a_truncated_grid_json_is_rebuilt_from_the_grid(tmp_path, data_dir):
    runs = expand_grid("tiny", TINY_GRID)
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    plan = tmp_path / "tiny" / "grid.json"
    whole = plan.read_text()
    plan.write_text(whole[:50])
    outcome = run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert outcome.trained == 0 and plan.read_text() == whole


# what grid.json holds -> what the one line says (beside the file's path)
BAD_PLANS = [
    ("truncated", lambda whole: whole[:50].encode(), "not valid JSON"),
    ("not UTF-8", lambda whole: b"\xff\xfe" + whole.encode(), "not valid JSON"),
    ("not a list", lambda whole: b'{"runs": []}', "holds dict, not a list of runs"),
    (
        "a run without its seed",
        lambda whole: json.dumps(
            [
                {**run, "config": {k: v for k, v in run["config"].items() if k != "seed"}}
                for run in json.loads(whole)
            ]
        ).encode(),
        "run 0 is not a run",
    ),
]


@pytest.mark.parametrize("name,damage,message", BAD_PLANS, ids=[b[0] for b in BAD_PLANS])
def test_report_only_on_a_damaged_grid_json_is_one_line_exit_2_and_writes_nothing(
    tmp_path, data_dir, capfd, name, damage, message
):
    runs = expand_grid("tiny", TINY_GRID)
    run_grid("tiny", runs, tmp_path / "results", data_dir, jobs=1, log=quiet)
    plan = tmp_path / "results" / "tiny" / "grid.json"
    whole = plan.read_text()
    plan.write_bytes(damage(whole))
    args = tiny_command(tmp_path, data_dir)
    result = main_in_process([*args, "--report-only"], capfd)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {plan}: {message}") and "run its grid again" in lines[0]
    assert not (tmp_path / "reports").exists()
    again = main_in_process([*args, "--jobs", "1"], capfd)  # what the line says to do
    assert again.returncode == 0 and plan.read_text() == whole, again.stderr
    assert again.stderr.strip().splitlines()[-1] == "no run trained in this session, so none failed"


def test_an_error_record_from_the_future_is_retried(tmp_path, data_dir):
    """A claim's 'another runner finished it meanwhile' compares the record's content, not its
    mtime against the clock."""
    runs = expand_grid("tiny", [{"base": TINY, "axes": {"seed": [0]}}])
    folder = tmp_path / "tiny"
    folder.mkdir()
    path = folder / f"{runs[0].run_id}.json"
    path.write_text(
        json.dumps(
            synthetic_record(
                runs[0].run_id,
                "error",
                labels=runs[0].labels,
                config=runs[0].config,
                environment={},
                grid="tiny",
                finished_at="",
                code_version="",
                wall_time_s=0.0,
            )
        )
    )
    future = time.time() + 3600 * 24 * 365
    os.utime(path, (future, future))
    outcome = run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert (outcome.trained, outcome.busy) == (1, 0)
    assert json.loads(path.read_text())["status"] == "ok"
