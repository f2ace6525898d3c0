"""Reliability: kill it, run two at once, corrupt it, fill the disk, feed it nonsense."""

import json
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

import run_all
from helpers import main_in_process, start_run_all, timeless
from ablations.records import store as records_module
from ablations.grid.config import SCHEMA, GridError, resolve
from ablations.grid.expand import expand_grid
from ablations.records.store import read_records
from ablations.run.runner import run_grid

ROOT = Path(__file__).resolve().parents[1]
# Each kill is one more random moment (about 8 s each: a runner's start, then a run or two);
# `make stress` sets 50. At least min(KILLS, 5) of them must land in the middle of the grid.
KILLS = int(os.environ.get("SCRATCHBENCH_KILLS", "3"))
MID_GRID_KILLS = min(KILLS, 5)
# Runs on the bundled digits, each long enough (about 0.8 s; 25 epochs took 0.1-0.2 s, so a
# runner often finished several runs in the kill's random delay) for the kills to land in the
# middle of the grid; four runs (one seed) for each kill that must (a kill costs one to three),
# and at least 12 runs: 12 by default, 20 under `make stress`.
CRASH_GRID = {
    "crash": [
        {
            "base": {"dataset": "digits", "hidden": [64], "epochs": 150, "batch_size": 16},
            "axes": {
                "optimizer": [{"optimizer": "sgd", "lr": 0.05}, {"optimizer": "adam", "lr": 1e-3}],
                "dropout": [0.0, 0.2],
                "seed": list(range(max(3, MID_GRID_KILLS))),
            },
        }
    ]
}
N_RUNS = 4 * max(3, MID_GRID_KILLS)


def start_runner(grid_file, results, extra=(), jobs=2):
    return start_run_all(
        *("--grid-file", str(grid_file), "--grid", "crash", "--jobs", str(jobs)),
        *("--results-dir", str(results), "--reports-dir", str(results.parent / "rep"), *extra),
    )


def assert_clean(folder):
    leftovers = [p.name for p in folder.iterdir() if p.suffix in {".tmp", ".lock", ".corrupt"}]
    assert not leftovers, leftovers
    for path in folder.glob("*.json"):
        json.loads(path.read_text())  # every file on disk is whole JSON


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grids.json"
    path.write_text(json.dumps(CRASH_GRID))
    return path


def count_records(folder):
    return sum(path.name != "grid.json" for path in folder.glob("*.json"))


def test_sigkill_mid_grid_loses_nothing_and_trains_nothing_twice(tmp_path, grid_file):
    reference = start_runner(grid_file, tmp_path / "reference")
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    expected = {
        rid: timeless(r)
        for rid, r in read_records(tmp_path / "reference" / "crash", lambda _: None).items()
    }
    assert len(expected) == N_RUNS

    folder = tmp_path / "killed" / "crash"
    rng = np.random.default_rng(0)
    kills_mid_grid = 0
    for _ in range(KILLS):
        before = count_records(folder)
        runner = start_runner(grid_file, folder.parent)
        deadline = time.time() + 60
        while count_records(folder) == before and runner.poll() is None and time.time() < deadline:
            time.sleep(0.05)  # wait until this runner has finished a run or two...
        time.sleep(rng.uniform(0.0, 0.6))  # ...then kill it at a random moment
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            kills_mid_grid += count_records(folder) < N_RUNS
        runner.wait()
        for path in folder.glob("*.json"):
            json.loads(path.read_text())  # never a partial record, even right after a kill
    done_before_final = count_records(folder)
    final = start_runner(grid_file, folder.parent)
    assert final.wait(timeout=300) == 0
    trained_by_final = len(re.findall(r"^\[\d+/\d+\]", final.stderr.read(), re.M))
    got = {rid: timeless(r) for rid, r in read_records(folder, lambda _: None).items()}
    assert got == expected  # same ids, same metrics as the uninterrupted run
    assert trained_by_final == N_RUNS - done_before_final  # nothing finished is trained again
    assert kills_mid_grid >= MID_GRID_KILLS
    assert_clean(folder)


def test_two_runners_on_one_folder_train_each_run_once(tmp_path, grid_file):
    """The claims are taken in the runner, just before each dispatch, whatever the backend: one
    worker each (a core each on 2 cores) races them as two pools would, and both train."""
    results = tmp_path / "shared"
    first, second = (start_runner(grid_file, results, jobs=1) for _ in range(2))
    outputs = [p.communicate(timeout=300)[1] for p in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    trained = [re.findall(r"^\[\d+/\d+\] .*? \| (\S+):", out, re.M) for out in outputs]
    assert len(trained[0]) + len(trained[1]) == N_RUNS
    assert trained[0] and trained[1], outputs  # they ran side by side: the claims were raced
    assert not set(trained[0]) & set(trained[1])
    assert len(read_records(results / "crash", lambda _: None)) == N_RUNS
    assert_clean(results / "crash")


def test_corrupt_record_is_set_aside_and_retrained(tmp_path, data_dir):
    runs = expand_grid("crash", CRASH_GRID["crash"])[:2]
    run_grid("crash", runs, tmp_path, data_dir, jobs=1, log=lambda _: None)
    victim = tmp_path / "crash" / f"{runs[0].run_id}.json"
    victim.write_text(victim.read_text()[:100])  # truncated, as by a hand edit gone wrong
    log = []
    outcome = run_grid("crash", runs, tmp_path, data_dir, jobs=1, log=log.append)
    assert outcome.trained == 1
    assert any("corrupt record" in line and "set aside" in line for line in log)
    assert (tmp_path / "crash" / f"{runs[0].run_id}.json.corrupt").exists()
    assert json.loads(victim.read_text())["status"] == "ok"


@pytest.mark.parametrize(
    "error,message",
    [
        (OSError(28, "No space left on device"), "No space left on device"),
        (PermissionError(13, "Permission denied"), "permission denied"),
    ],
)
def test_disk_full_or_read_only_gives_one_clear_line_and_keeps_finished_runs(
    tmp_path, data_dir, monkeypatch, capsys, grid_file, error, message
):
    real_write = records_module.write_json_atomic
    written = []

    def failing_write(path, obj):  # the disk fills up (or turns read-only) after 3 records
        is_record = Path(path).name != "grid.json"
        if is_record and len(written) == 3:
            error.filename = str(path)
            raise error
        real_write(path, obj)
        if is_record:
            written.append(path)

    monkeypatch.setattr("ablations.run.runner.write_json_atomic", failing_write)
    code = run_all.main(
        [
            "--grid-file",
            str(grid_file),
            "--grid",
            "crash",
            "--jobs",
            "1",
            "--results-dir",
            str(tmp_path / "results"),
            "--data-dir",
            str(data_dir),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[-1] and "Traceback" not in "\n".join(err)
    kept = read_records(tmp_path / "results" / "crash", lambda _: None)
    assert len(kept) == 3 and all(r["status"] == "ok" for r in kept.values())
    assert not list((tmp_path / "results" / "crash").glob("*.tmp"))


def test_a_full_disk_mid_write_names_the_path_and_exits_2(
    tmp_path, data_dir, monkeypatch, capsys, grid_file
):
    real_fsync, synced = os.fsync, []

    def full_after_3_records(fd):  # the kernel's ENOSPC names no file
        if len(synced) == 4:  # grid.json, then 3 records
            raise OSError(28, "No space left on device")
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr("ablations.files.os.fsync", full_after_3_records)
    code = run_all.main(
        [
            "--grid-file",
            str(grid_file),
            "--grid",
            "crash",
            "--jobs",
            "1",
            "--results-dir",
            str(tmp_path / "results"),
            "--data-dir",
            str(data_dir),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    folder = tmp_path / "results" / "crash"
    assert code == 2 and re.fullmatch(
        rf"error: cannot write {re.escape(str(folder))}/\w+\.json: "
        r"No space left on device",
        err[-1],
    ), err[-1]
    assert len(read_records(folder, lambda _: None)) == 3 and not list(folder.glob("*.tmp"))


BAD_GRID_FILES = [
    ('{"g": [{"base": {"optimizer": "adamm"}}]}', "did you mean 'adam'"),
    ('{"g": [{"base": {"lr": "0.1"}}]}', "lr must be float"),
    ('{"g": [{"base": {"lr": 0}}]}', "lr: must be > 0"),
    ('{"g": [{"base": {"lr": -0.1}}]}', "lr: must be > 0"),
    ('{"g": [{"base": {"lr": NaN}}]}', "lr: must be finite"),
    ('{"g": [{"axes": {"activation": []}}]}', "must be a non-empty list"),
    ('{"g": [{"axes": {"seed": [1, 1]}}]}', "twice"),
    (
        '{"g": [{"axes": {"optimizer": ["adam", {"label": "b", "optimizer": "adam"}]}}]}',
        "duplicate entry",
    ),
    ('{"g": [{"base": {"learning_rate": 0.1}}]}', "unknown key 'learning_rate'"),
    ('{"g": [{"axes": {"seed": [0.5]}}]}', "seed must be int"),
    ('{"g": [{"base": {"epochs": -3}}]}', "epochs: must be >= 1"),
    ('{"g": [{"base": {"hidden": "64"}}]}', "hidden must be list"),
    ('{"g": "not blocks"}', "non-empty list of blocks"),
    ('{"g": [{"base": [1, 2]}]}', "a block is a dict"),
    ('{"g": [{"base": {"hidden": [2000000000]}}]}', "GiB (parameters, gradients, adam state"),
    ('{"g": [{"base": {"activation": "leaky_relu", "slop": 0.1}}]}', "did you mean 'slope'"),
    (
        '{"g": [{"base": {"schedule": "step", "schedule_params": {"gama": 0.5}}}]}',
        "unknown argument of schedule 'step' 'gama'; did you mean 'gamma'?",
    ),
    ("[1, 2]", "must hold an object"),
    ('{"g": [', "is not valid JSON"),
]


@pytest.mark.parametrize("text,message", BAD_GRID_FILES)
def test_bad_grid_files_exit_2_with_one_line_and_write_nothing(tmp_path, capfd, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    grid = ["--grid", "g"] if text.startswith('{"g"') else []
    argv = ["--grid-file", str(path), *grid, "--results-dir", str(tmp_path / "results")]
    result = main_in_process(argv, capfd)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "results").exists()


SETTING_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 300), max_size=3),
    st.dictionaries(st.text(max_size=5), st.floats(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(SCHEMA) + ["momentum", "beta1", "bogus"]), SETTING_VALUES, max_size=5
    )
)
def test_any_settings_resolve_or_fail_with_one_line(settings_):
    try:
        config = resolve(settings_)
    except GridError as err:
        assert "\n" not in str(err)
    else:
        assert set(config) == set(SCHEMA)
        json.dumps(config, allow_nan=False)  # a resolved config is always plain JSON


UNSAFE = [
    (r"\beval\(", "eval"),
    (r"\bexec\(", "exec"),
    (r"shell\s*=\s*True", "a shell"),
    (r"allow_pickle\s*=\s*True", "pickle loading"),
    (r"\bimport pickle\b", "pickle"),
]


def test_no_eval_exec_shell_or_pickle_in_the_code():
    sources = [p for folder in ("nn_core", "ablations") for p in (ROOT / folder).glob("*.py")]
    sources.append(ROOT / "run_all.py")
    for path in sources:
        text = path.read_text()
        for pattern, what in UNSAFE:
            assert not re.search(pattern, text), f"{path.name} uses {what}"
    for path in sources:  # every np.load says allow_pickle=False
        for call in re.findall(r"np\.load\([^)]*\)", path.read_text()):
            assert "allow_pickle=False" in call, f"{path.name}: {call}"


def test_ctrl_c_stops_keeps_finished_runs_and_says_how_to_resume(tmp_path, grid_file):
    folder = tmp_path / "results" / "crash"
    runner = start_runner(grid_file, tmp_path / "results")
    deadline = time.time() + 60
    while count_records(folder) == 0 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(runner.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    _, stderr = runner.communicate(timeout=60)
    assert runner.returncode == 130, stderr
    assert "run the same command to resume" in stderr and "Traceback" not in stderr
    kept = read_records(folder, lambda _: None)
    assert 0 < len(kept) < N_RUNS and all(r["status"] == "ok" for r in kept.values())
    assert_clean(folder)


def test_sigterm_ends_the_workers_quietly_and_keeps_finished_runs(tmp_path, grid_file):
    """`kill PID` (a scheduler's stop, a closed session) reaches the parent only: it stops as
    Ctrl-C does, its loky workers end with it, and stderr holds no warning (loky's "leaked
    semlock objects" came from workers outliving a parent killed mid-grid)."""
    folder = tmp_path / "results" / "crash"
    runner = start_runner(grid_file, tmp_path / "results")
    deadline = time.time() + 60
    while count_records(folder) == 0 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(runner.pid, signal.SIGTERM)
    try:
        _, stderr = runner.communicate(timeout=60)  # returns once no worker holds the pipe
        assert runner.returncode == 130, stderr
        after = stderr[stderr.index("(all grids)") :]
        assert "run the same command to resume" in after
        assert not re.search(r"(?i)warn|leaked|traceback|semlock", after), after
        deadline = time.time() + 10
        while time.time() < deadline:
            os.killpg(runner.pid, 0)  # its session's process group: the workers
            time.sleep(0.1)
        pytest.fail("workers of the stopped runner are still alive")
    except ProcessLookupError:
        pass  # the whole group is gone
    finally:
        try:  # leave no orphan behind a failed check
            os.killpg(runner.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    kept = read_records(folder, lambda _: None)
    assert 0 < len(kept) < N_RUNS and all(r["status"] == "ok" for r in kept.values())
    assert_clean(folder)
