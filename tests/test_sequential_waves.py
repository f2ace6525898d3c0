"""The sequential wave runner (ablations/waves.py) through the command line: a sequential grid
killed at a random point (SIGKILL of the runner's process group, as test_reliability does) and
resumed gives the same look log and decisions as an uninterrupted session, at --jobs 1, --jobs 2
and --scheduler local:2; it trains only what an open test needs; a bad design is one line, exit
2, nothing written; a tuned sequential grid trains its tuning runs with wave 1. Every name
contains `sequential`. Timings on 2 busy cores: the kill test about 30 s per mode (runner starts
dominate: the reference session 20 s, then each mode a killed session and a resumed one), the
others a few seconds each."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import start_run_all
from ablations.records.store import SEQUENTIAL_FILE

ROOT = Path(__file__).resolve().parents[1]
# Digits runs of about 0.3 s: sgd at a small lr far behind adam and sgd at twice its lr, relu
# against tanh closer; 6 seeds in 3 waves ([0, 1], [2, 3], [4, 5]). Every test is decided at
# wave 2 (measured: 24 of the 36 runs train).
SEQ_GRID = {
    "seq": [
        {
            "base": {"dataset": "digits", "hidden": [32], "epochs": 30, "batch_size": 32},
            "axes": {
                "optimizer": [
                    {"optimizer": "sgd", "lr": 0.003},
                    {"optimizer": "adam", "lr": 3e-3},
                    {"label": "sgd_6e-3", "optimizer": "sgd", "lr": 0.006},
                ],
                "activation": ["relu", "tanh"],
                "seed": [0, 1, 2, 3, 4, 5],
            },
            "design": {"kind": "sequential", "waves": 3},
        }
    ]
}
MODES = {"jobs1": ["--jobs", "1"], "jobs2": ["--jobs", "2"], "local2": ["--scheduler", "local:2"]}


@pytest.fixture
def grid_file(tmp_path):
    path = tmp_path / "grids.json"
    path.write_text(json.dumps(SEQ_GRID))
    return path


def start(grid_file, results, extra=()):
    return start_run_all(
        *("--grid-file", str(grid_file), "--grid", "seq"),
        *("--results-dir", str(results), "--reports-dir", str(results.parent / "rep"), *extra),
    )


def records_in(folder):
    return sorted(
        p.name for p in folder.glob("*.json") if p.name not in ("grid.json", SEQUENTIAL_FILE)
    )


def look_log(folder):
    return json.loads((folder / SEQUENTIAL_FILE).read_text())


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted session at --jobs 2: (look log, record names, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("reference")
    grids = folder / "grids.json"
    grids.write_text(json.dumps(SEQ_GRID))
    runner = start(grids, folder / "results", MODES["jobs2"])
    out, err = runner.communicate(timeout=300)
    assert runner.returncode == 0, err
    results = folder / "results" / "seq"
    return look_log(results), records_in(results), out, err


def test_sequential_session_trains_only_what_open_tests_need(reference):
    log, records, out, err = reference
    assert log["wave"] >= 2 and log["undecided"] == 0
    decisions = {t["level"]: t for t in log["tests"]}
    assert decisions["adam"]["decision"] == "beats"
    assert len(records) == log["runs_finished"] < log["runs_planned"] == 36
    assert f"look {log['wave']} of 3" in err and "tests undecided |" in err
    for test in log["tests"]:  # p* recomputed from p and pi
        current = 1.0
        for look in test["looks"]:
            current = min(current, min(1.0, look["p"] / look["pi"]))
            assert look["p_star"] == current


@pytest.mark.parametrize("mode", sorted(MODES))
def test_sequential_killed_and_resumed_gives_the_same_looks(tmp_path, grid_file, reference, mode):
    """One SIGKILL at a random point of the session (once a random number of its records, at
    least one and at most all but four, are in: the point is set in records, not seconds, since
    a run takes 0.05 s on an idle core and 0.3 s on a busy one), then the same command again:
    the same look log, byte for byte once parsed, and the same records."""
    log, records, _, _ = reference
    results = tmp_path / "results"
    rng = np.random.default_rng(sorted(MODES).index(mode))
    kill_at = int(rng.integers(1, len(records) - 3))
    runner = start(grid_file, results, MODES[mode])
    deadline = time.time() + 120
    while (
        len(records_in(results / "seq")) < kill_at
        and runner.poll() is None
        and time.time() < deadline
    ):
        time.sleep(0.002)
    assert runner.poll() is None, "the session ended before the kill"
    os.killpg(runner.pid, signal.SIGKILL)
    runner.communicate()
    assert 0 < len(records_in(results / "seq")) < len(records)  # killed mid-session
    final = start(grid_file, results, MODES[mode])
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert look_log(results / "seq") == log
    assert records_in(results / "seq") == records


def cli(args, cwd):
    """run_all.py in `cwd`, its results and reports there too (not in the checkout)."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_all.py"),
            *("--results-dir", str(cwd / "results"), "--reports-dir", str(cwd / "reports")),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "design, extra, words",
    [
        ("sequentail", [], "unknown design 'sequentail'; did you mean 'sequential'?"),
        ({"kind": "sequential", "waves": 9}, [], "design waves must be an integer from 1 to 5"),
        ("sequential", ["--force"], "--force chooses runs by hand"),
        ("sequential", ["--only", "activation=relu"], "--only chooses runs by hand"),
        ("full", ["--design", "sequentail"], "invalid choice: 'sequentail'"),
    ],
)
def test_sequential_bad_design_is_one_line_and_writes_nothing(tmp_path, design, extra, words):
    grid = {"seq": [{**SEQ_GRID["seq"][0], "design": design}]}
    (tmp_path / "grids.json").write_text(json.dumps(grid))
    done = cli(["--grid-file", "grids.json", "--grid", "seq", *extra], tmp_path)
    assert done.returncode == 2
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids.json"]
    assert not (ROOT / "results" / "seq").exists()


def test_sequential_tuned_grid_tunes_with_wave_one(tmp_path, data_dir):
    """A tuned block, in process (waves.run_sequential_grid with runner.run_grid, one worker):
    its tuning runs train with wave 1, the finals follow the looks, and tuning.json and
    sequential.json sit beside the records."""
    from ablations.grid.design import parse_design
    from ablations.run.runner import run_grid
    from ablations.waves import run_sequential_grid

    block = {
        "base": {"dataset": "digits", "hidden": [16], "epochs": 10, "batch_size": 64},
        "axes": {"optimizer": ["sgd", "adam"], "activation": ["relu"], "seed": [0, 1, 2]},
        "tune": {"space": {"lr": [0.003, 0.03]}, "seeds": [100]},
        "design": "sequential",
    }
    results, lines = tmp_path / "results", []

    def train(finals, only):
        return run_grid("g", finals, results, data_dir, jobs=1, only=only, log=lines.append)

    design = parse_design("g", [block])
    outcome, state = run_sequential_grid(
        "g", [block], design, results, data_dir, train, log=lines.append
    )
    folder = results / "g"
    tuning = json.loads((folder / "tuning.json").read_text())
    assert len(tuning["tuning_run_ids"]) == 4 and not tuning["pending_final_runs"]
    assert all((folder / f"{rid}.json").is_file() for rid in tuning["tuning_run_ids"])
    assert look_log(folder)["wave"] == state.wave >= 1 and state.waves == 2
    trained = [folder / f"{rid}.json" for rid in tuning["final_run_ids"]]
    seeds = [json.loads(p.read_text())["labels"]["seed"] for p in trained if p.is_file()]
    assert sorted(seeds)[:4] == ["0", "0", "1", "1"]  # wave 1: both cells, seeds 0 and 1
    assert outcome.trained == 4 + len(seeds)


# Two datasets (the bundled digits and the same images as a user .npz), a tuned block: sgd at
# a tiny lr far behind adam, 3 activations, 3 seeds in 2 waves; 6 tests.
TWO_DATASETS_BLOCK = {
    "base": {"hidden": [32], "epochs": 10, "batch_size": 64},
    "axes": {
        "dataset": ["digits", "digits_npz"],
        "optimizer": [{"optimizer": "sgd", "tune": {"lr": [1e-5, 3e-5]}}, "adam"],
        "activation": ["relu", "tanh", "leaky_relu"],
        "seed": [0, 1, 2],
    },
    "tune": {"seeds": [100]},
    "design": "sequential",
}


@pytest.fixture
def digits_npz(tmp_path):
    """The digits images as a user .npz dataset, digits_npz, registered for the test."""
    import hashlib

    from sklearn.datasets import load_digits

    from ablations.data.datasets import DATASETS
    from ablations.data.user_datasets import array_dataset

    x, y = load_digits(return_X_y=True)
    npz = tmp_path / "digits.npz"
    images, labels = x.reshape(-1, 8, 8).astype(np.uint8), y.astype(np.uint8)
    split = {"x_train": images[:1400], "y_train": labels[:1400]}
    np.savez(npz, **split, x_test=images[1400:], y_test=labels[1400:])
    sha = hashlib.sha256(npz.read_bytes()).hexdigest()
    array_dataset("digits_npz", npz, sha, image_shape=(8, 8), val_size=300, max_value=16)
    yield "digits_npz"
    DATASETS.pop("digits_npz", None)


def two_datasets_session(results, data_dir, log, skip=lambda run: False):
    """run_sequential_grid of TWO_DATASETS_BLOCK in process at --jobs 1; each train call logs
    'training [(kind, dataset), ...]'; runs `skip` keeps are not trained (as if they failed)."""
    from ablations.grid.design import parse_design
    from ablations.run.runner import run_grid
    from ablations.waves import run_sequential_grid

    def train(finals, only):
        kinds = sorted(
            {("trials" if "trial" in r.labels else "finals", r.config["dataset"]) for r in only}
        )
        log(f"training {kinds}")
        for run in only:
            log(f"run {run.run_id}")
        only = [run for run in only if not skip(run)]
        return run_grid("g", finals, results, data_dir, jobs=1, only=only, log=str)

    block = TWO_DATASETS_BLOCK
    return run_sequential_grid(
        "g", [block], parse_design("g", [block]), results, data_dir, train, log
    )


def test_sequential_wave_one_a_test_at_a_time_decides_ahead(tmp_path, data_dir, digits_npz):
    """In process: wave 1 a test at a time, the tests with the most wave-1 pairs first (the
    optimizer contrasts, 3 activations x 2 seeds, before the activation contrasts' 2 optimizers
    x 2 seeds), each test's tuning before its finals: adam vs sgd on digits (the digits cells'
    tuning, then every digits run of wave 1), a look, then adam vs sgd on digits_npz (the
    rest); adam far ahead of sgd at a tiny lr is decided at that look, ahead of look 1 and
    before digits_npz's tuning, with Holm over all 6 tests of the design (3 not yet known: their
    finals wait for tuning), and the final look log holds that same look (the look is sure to
    reject what is decided ahead). About 15 s."""
    results, lines, ahead = tmp_path / "results", [], {}

    def log(line):
        lines.append(line)
        if line.startswith("grid g: wave 1 in for contrast: optimizer adam vs sgd (digits);"):
            ahead.update(look_log(results / "g"))

    two_datasets_session(results, data_dir, log)
    trained = [line for line in lines if line.startswith("training [(")]
    phases = [line.removeprefix("training ") for line in dict.fromkeys(trained)]
    assert phases == [  # each test's tuning, then its wave-1 finals, then the next test's
        "[('trials', 'digits')]",
        "[('finals', 'digits')]",
        "[('trials', 'digits_npz')]",
        "[('finals', 'digits_npz')]",
    ], trained
    look = next(i for i, line in enumerate(lines) if line.startswith("grid g: wave 1 in for"))
    digits_done = lines.index("training [('finals', 'digits')]")
    assert digits_done < look < lines.index("training [('trials', 'digits_npz')]"), lines
    assert ahead["wave"] == 0 and ahead["family_size"] == 6
    early = [t for t in ahead["tests"] if t["closed_wave"] == 1]
    assert [t["name"] for t in early] == ["contrast: optimizer adam vs sgd (digits)"], lines
    assert early[0]["decision"] == "beats"
    final = {t["name"]: t for t in look_log(results / "g")["tests"]}
    assert final[early[0]["name"]] == early[0]


def test_sequential_tuning_that_cannot_finish_keeps_its_tests_open(tmp_path, data_dir, digits_npz):
    """digits_npz's tuning runs never get a record (each asked for once, then left): its tests
    stay undecided in a family that still counts all 6 (Holm is never run over fewer tests than
    the design has), digits' tests are decided, no digits_npz final trains, the session says
    what it could not train, and no run is asked for twice."""
    results, lines = tmp_path / "results", []
    outcome, state = two_datasets_session(
        results,
        data_dir,
        lines.append,
        skip=lambda run: "trial" in run.labels and run.config["dataset"] == "digits_npz",
    )
    asked = [line.removeprefix("run ") for line in lines if line.startswith("run ")]
    assert len(asked) == len(set(asked))
    assert "[('finals', 'digits_npz')]" not in " ".join(lines)
    log = look_log(results / "g")
    assert log["family_size"] == len(state.tests) == 6
    by_name = {t["name"]: t["decision"] for t in log["tests"]}
    assert by_name["contrast: optimizer adam vs sgd (digits)"] == "beats"
    assert all(d == "undecided" for n, d in by_name.items() if "digits_npz" in n)
    assert any("could not train; run the same command again" in line for line in lines), lines


def test_sequential_ahead_line_names_the_added_levels_tests_first():
    """The line after a wave-1 slice names the added levels' decided tests before the others'
    (the question the session asked), at most 3, and counts the rest."""
    from types import SimpleNamespace

    from ablations.waves import ahead_line

    def test(level, decision, closed=1):
        key = ("contrast", "mnist", None, None, "optimizer", level, "sgd")
        return SimpleNamespace(
            key=key, name=f"{level} vs sgd", decision=decision, closed_wave=closed
        )

    tests = [test(f"old{i}", "beats") for i in range(4)] + [
        test("open", "undecided", 0),
        test("new", "trails"),
    ]
    state = SimpleNamespace(tests=tests)
    line = ahead_line("g", state, "new vs sgd", {("optimizer", "new")})
    assert line == (
        "grid g: wave 1 in for new vs sgd; 5 of 6 tests decided ahead of look 1; "
        "new vs sgd: trails; old0 vs sgd: beats; old1 vs sgd: beats; and 2 more"
    )
    assert "; old0 vs sgd: beats; old1 vs sgd: beats; old2" in ahead_line("g", state, "x")
