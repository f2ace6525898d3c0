"""run_all.py as users run it: bad input gives exit 2 and one line, and writes nothing."""

import io
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import main_in_process

ROOT = Path(__file__).resolve().parents[1]


def run_all(*args, cwd=ROOT, env=None):
    return subprocess.run(
        [sys.executable, str(ROOT / "run_all.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


BAD_ARGUMENTS = [
    (["--grid", "smok"], "did you mean 'smoke'"),
    (["--jobs", "0"], "--jobs: must be >= 1"),
    (["--jobs", "two"], "expected a positive integer"),
    (["--backend", "ray"], "invalid choice: 'ray'"),
    (["--backend", "dask"], "needs --scheduler"),
    (["--backend", "loky", "--scheduler", "local:2"], "--scheduler is for --backend dask"),
    (["--only", "colour=red", "--grid", "smoke"], "unknown key 'colour'"),
    (["--only", "optimzer=adam", "--grid", "smoke"], "did you mean 'optimizer'"),
    (
        ["--only", "optimizer=adamm", "--grid", "smoke"],
        "optimizer: unknown level 'adamm'; did you mean 'adam'? known: adam, sgd",
    ),
    (
        ["--only", "optimizer=sgd,activation=relu,regularization=l2", "--grid", "smoke"],
        "unknown level 'l2'",
    ),
    (["--only", "dataset=mnist", "--grid", "smoke"], "unknown level 'mnist'; known: digits"),
    (["--only", "optimizer", "--grid", "smoke"], "expected key=value"),
    (["--scheduler", "local:zero", "--grid", "smoke"], "expected local:N with N >= 1"),
    (["--scheduler", "local:abc", "--grid", "smoke"], "expected local:N with N >= 1"),
    (["--scheduler", "tls://10.0.0.5:8786", "--grid", "smoke"], "tls:// needs TLS settings"),
    (["--frobnicate"], "unrecognized arguments"),
]


@pytest.mark.parametrize("args,message", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(args, message, tmp_path, capfd):
    result = main_in_process([*args, "--results-dir", str(tmp_path / "results")], capfd)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "results").exists()


def test_unreachable_dask_scheduler(tmp_path):
    pytest.importorskip("distributed")
    result = run_all(
        "--grid",
        "smoke",
        "--backend",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 2
    assert "no scheduler reachable at 'tcp://127.0.0.1:9'" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "results").exists()


def serve(answer):
    """A local TCP server that accepts connections and, for each, runs `answer(connection)`;
    returns its address."""
    server = socket.create_server(("127.0.0.1", 0))

    def accept():
        while True:
            connection, _ = server.accept()
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}"


def never_answers(connection):
    time.sleep(60)


def answers_http(connection):
    connection.recv(65536)
    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    connection.close()


def greets_like_ssh(connection):
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    time.sleep(60)


# (a port that does not speak Dask, the line expected): each a timeout of 2 s at most, exit 2
NOT_DASK = [
    (never_answers, "accepted the connection but sent no Dask handshake within 2 s"),
    (answers_http, "accepted the connection but sent no Dask handshake within 2 s"),
    (greets_like_ssh, "answered, but not as a Dask scheduler (its first bytes: b'SSH-2.0-'"),
]


@pytest.mark.parametrize("answer,message", NOT_DASK)
def test_an_address_that_does_not_speak_dask_is_one_line_exit_2(
    answer, message, tmp_path, monkeypatch, capsys
):
    pytest.importorskip("distributed")
    import run_all

    monkeypatch.setattr("ablations.run.cluster.CONNECT_TIMEOUT_S", 2.0)
    address = serve(answer)
    start = time.monotonic()
    code = run_all.main(
        [
            "--grid",
            "smoke",
            "--scheduler",
            address,
            "--results-dir",
            str(tmp_path / "results"),
            "--reports-dir",
            str(tmp_path / "reports"),
        ]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert time.monotonic() - start < 10
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


def test_results_path_that_is_a_file(tmp_path, capfd):
    (tmp_path / "results").write_text("not a folder")
    result = main_in_process(["--grid", "smoke", "--results-dir", str(tmp_path / "results")], capfd)
    assert result.returncode == 2 and "exists and is not a directory" in result.stderr


def quick_runs():
    from ablations.grid.examples import GRIDS

    return math.prod(len(levels) for levels in GRIDS["quick"][0]["axes"].values())


def test_list_prints_the_runs_and_their_count(capfd):
    result = main_in_process(["--list", "--grid", "quick"], capfd)
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1] == f"quick: {quick_runs()} runs"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """(the arguments, the finished command, its folder) of the smoke grid trained once with
    --jobs 2 from a fresh folder: the plan's test reads its output, the end-to-end test reruns it."""
    folder = tmp_path_factory.mktemp("smoke")
    args = ["--grid", "smoke", "--jobs", "2", "--results-dir", str(folder / "results")]
    args += ["--reports-dir", str(folder / "reports"), "--data-dir", str(folder / "data")]
    return args, run_all(*args), folder


def test_smoke_grid_end_to_end_then_report_only(smoke, capfd):
    """Trained by a run_all.py process (the fixture); the commands after it train nothing, so
    they run in this process (main_in_process: the same output without a new interpreter)."""
    args, result, tmp_path = smoke
    assert result.returncode == 0, result.stderr
    assert "[8/8]" in result.stderr
    report = (tmp_path / "reports" / "smoke.md").read_text()
    assert len(list((tmp_path / "results" / "smoke").glob("*.json"))) == 9  # 8 runs + grid.json
    again = main_in_process([*args, "--report-only"], capfd)
    assert again.returncode == 0
    assert (tmp_path / "reports" / "smoke.md").read_text() == report
    rerun = main_in_process(args, capfd)
    assert rerun.returncode == 0, rerun.stderr
    assert "grid smoke: 8 runs, all finished; nothing to train" in rerun.stderr
    assert "plan: nothing to train (8 runs already done)" in rerun.stderr
    (tmp_path / "reports" / "smoke.md").unlink()
    every = main_in_process([*args[2:], "--report-only"], capfd)  # every grid with results
    assert every.returncode == 0, every.stderr
    assert every.stdout.count("report:") == 1
    assert (tmp_path / "reports" / "smoke.md").read_text() == report


def test_a_session_that_trains_nothing_connects_no_backend(smoke, tmp_path, capfd, monkeypatch):
    """Every record there: no loky or Dask pool starts (the rerun only renders); one missing: the
    backend is connected, and its workers checked, before anything is written."""
    from ablations import cli
    from ablations.grid.config import GridError

    _, result, folder = smoke
    assert result.returncode == 0, result.stderr
    shutil.copytree(folder / "results", tmp_path / "results")
    args = ["--grid", "smoke", "--jobs", "2", "--results-dir", str(tmp_path / "results")]
    args += ["--reports-dir", str(tmp_path / "reports"), "--data-dir", str(folder / "data")]
    connected = []

    def workers_refuse(*arguments):
        connected.append(arguments)
        raise GridError("the workers lack a plugin")

    monkeypatch.setattr(cli, "connect_backend", workers_refuse)
    idle = main_in_process(args, capfd)
    assert idle.returncode == 0 and not connected, idle.stderr
    grid = tmp_path / "results" / "smoke"
    next(p for p in grid.glob("*.json") if p.name != "grid.json").unlink()
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    short = main_in_process(args, capfd)
    assert short.returncode == 2 and len(connected) == 1
    assert short.stderr.strip().splitlines()[-1] == "error: the workers lack a plugin"
    assert {
        p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
    } == before


def test_a_slip_list_and_help_load_neither_the_runner_nor_the_report():
    """run_all.py --help, --list and a slip (exit 2) import no pandas, matplotlib, scipy,
    scikit-learn, joblib or Dask: a command that trains and draws nothing starts in a fraction
    of a second (cli.py imports them where they are used)."""
    heavy = ["pandas", "matplotlib", "scipy", "sklearn", "joblib", "dask", "distributed"]
    code = (
        "import sys, run_all\n"
        "try:\n    run_all.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    for argv in (["--help"], ["--grid", "smoke", "--list"], ["--grid", "nosuch"]):
        loaded = subprocess.run(
            [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True
        )
        assert loaded.stdout.strip().splitlines()[-1] == "[]", (argv, loaded.stdout)


def test_only_trains_a_subset_and_the_report_still_covers_the_whole_grid(tmp_path, capfd):
    args = [
        "--grid",
        "smoke",
        "--jobs",
        "1",
        "--results-dir",
        str(tmp_path / "results"),
        "--reports-dir",
        str(tmp_path / "reports"),
        "--data-dir",
        str(tmp_path / "data"),
    ]
    result = main_in_process([*args, "--only", "optimizer=sgd,activation=relu"], capfd)
    assert result.returncode == 0, result.stderr
    assert "2 runs selected (grid.json lists 8), 0 already done, 2 to train" in result.stderr
    grid = json.loads((tmp_path / "results" / "smoke" / "grid.json").read_text())
    assert len(grid) == 8
    report = (tmp_path / "reports" / "smoke.md").read_text()
    assert "Runs: 8 (2 ok, 0 diverged, 0 error, 6 pending)" in report.replace("**", "")


def test_a_setting_the_trainer_ignores_fails_pre_flight(tmp_path, capfd):
    grid = tmp_path / "grids.json"
    grid.write_text(json.dumps({"g": [{"base": {"trainer": "sklearn_mlp", "dropout": 0.2}}]}))
    result = main_in_process(
        ["--grid-file", str(grid), "--grid", "g", "--results-dir", str(tmp_path / "results")], capfd
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "trainer 'sklearn_mlp' ignores the setting 'dropout'" in lines[0]
    assert not (tmp_path / "results").exists()


def test_help_ends_with_worked_examples(capfd):
    result = main_in_process(["--help"], capfd)
    assert result.returncode == 0
    tail = result.stdout.strip().splitlines()
    examples = tail[tail.index("examples:") + 1 :]
    assert len(examples) >= 5 and all(line.strip().startswith("run_all.py") for line in examples)


def test_progress_is_one_bar_on_a_terminal_and_plain_lines_elsewhere():
    from ablations.run.progress import Session

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    record = {
        "status": "ok",
        "test_acc": 0.9123,
        "labels": {"optimizer": "adam", "seed": 0},
        "wall_time_s": 1.0,
        "error": None,
        "config": {},
    }
    terminal, lines = Terminal(), []
    session = Session(3, 30.0, lambda config: 10.0, terminal, lines.append)
    for phase_runs in (2, 1):  # two phases, one bar
        show = session(phase_runs)
        for _ in range(phase_runs):
            show(record)
        show.close()
    session.close()
    assert not lines and "3/3" in terminal.getvalue() and "(all grids)" in terminal.getvalue()
    assert "adam/0: ok test_acc=0.9123" in terminal.getvalue()
    assert terminal.getvalue().count("| 0/3") == 1  # one bar for both phases
    session = Session(2, 30.0, lambda config: 10.0, io.StringIO(), lines.append)
    session(2)(record)
    assert lines[0].startswith("[1/2]") and "ETA" in lines[0] and lines[0].endswith("(1.0s)")


def test_one_eta_across_phases_weighs_runs_by_their_estimate(monkeypatch):
    """A plan of 100 s: after 10 s of wall on runs estimated at 20 s, the speed is 2x the
    estimate, so the 80 s left take 40 s, whichever phase or grid the runs belong to."""
    from ablations.run import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    session = progress.Session(4, 100.0, lambda config: config["s"], None, lambda line: None)
    assert session.eta_s() == 100.0  # nothing done yet: the plan's estimate
    now[0] = 10.0
    session(1)({"status": "ok", "labels": {}, "wall_time_s": 9.0, "config": {"s": 20.0}})
    assert session.eta_s() == pytest.approx(40.0)
    session(3)({"status": "ok", "labels": {}, "wall_time_s": 9.0, "config": {"s": 30.0}})
    assert session.eta_s() == pytest.approx(50.0 * 10.0 / 50.0)


def test_the_plan_is_printed_before_training(smoke):
    _, result, _ = smoke
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    plan = next(i for i, line in enumerate(lines) if line.startswith("plan: "))
    assert (
        lines[plan].startswith("plan: 8 of 8 runs to train, about ")
        and " min wall with " in lines[plan]
    )
    assert lines[plan - 1].startswith("| smoke ") and lines[plan - 1].split("|")[2:6] == [
        "      8 ",
        "      0 ",
        "          8 ",
        "        1 ",
    ]  # runs, done, to train, phases
    assert plan < next(i for i, line in enumerate(lines) if line.startswith("[1/8]"))
    # that a rerun's plan says there is nothing to train: test_smoke_grid_end_to_end's rerun


def test_one_count_and_eta_across_the_phases_of_a_tuned_grid(tmp_path, capfd):
    """Run in this process with one worker (the count and the ETA are the session's, whatever
    the workers; a fresh interpreter and a loky pool cost more than the four runs)."""
    grid = tmp_path / "grids.json"
    grid.write_text(
        json.dumps(
            {
                "t": [
                    {
                        "base": {"dataset": "digits", "hidden": [16], "epochs": 2},
                        "axes": {
                            "optimizer": [{"optimizer": "sgd", "tune": {"lr": [0.1, 0.3]}}],
                            "seed": [0, 1],
                        },
                        "tune": {"seeds": [9]},
                    }
                ]
            }
        )
    )
    result = main_in_process(
        [
            *("--grid-file", str(grid), "--grid", "t", "--jobs", "1"),
            *("--results-dir", str(tmp_path / "results")),
            *("--reports-dir", str(tmp_path / "reports"), "--data-dir", str(tmp_path / "data")),
        ],
        capfd,
    )
    assert result.returncode == 0, result.stderr
    assert "plan: 4 of 4 runs to train" in result.stderr
    assert "| t      |      4 |      0 |          4 |        2 |" in result.stderr  # 2 phases
    counts = [
        line.split("]")[0] + "]" for line in result.stderr.splitlines() if line.startswith("[")
    ]
    assert counts == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert all("(all grids)" in line for line in result.stderr.splitlines() if line.startswith("["))


def test_installed_in_an_empty_folder_runs_the_quick_study_and_says_what_next(
    tmp_path, monkeypatch, capsys
):
    """The quick study itself takes minutes (measured outside the tests): smoke stands in."""
    from ablations import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["--list"]) == 0  # root None: the installed command
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"quick: {quick_runs()} runs"
    monkeypatch.setattr(cli, "DEFAULT_GRIDS", ["smoke"])
    assert cli.main(["--jobs", "1", "--data-dir", str(tmp_path / "data")], prog="scratchbench") == 0
    err = capsys.readouterr().err
    assert "quick study: every optimizer x activation x regularization x dataset" in err
    assert "`scratchbench --study FILE.py`" in err and "`python run_all.py`" in err
    assert (tmp_path / "reports" / "smoke.md").is_file()
    assert err.index("quick study") < err.index("[1/8]")


def test_in_a_checkout_no_grid_still_means_the_default_grids(tmp_path):
    result = run_all("--list", "--results-dir", str(tmp_path / "results"))
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1].startswith("default: ")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "reports, problem",
    [
        ({"g": {"anchors": {}}}, "report of grid 'g': unknown key 'anchors'; valid keys:"),
        (
            {"other": {"references": ["g"]}},
            "declares the report of 'other', which it does not define",
        ),
    ],
)
def test_a_bad_report_declaration_in_a_grid_file_is_one_line(tmp_path, reports, problem):
    grids = tmp_path / "grids.json"
    grids.write_text(json.dumps({"g": [{"base": {}}], "reports": reports}))
    result = run_all(
        "--grid-file",
        str(grids),
        "--grid",
        "g",
        "--list",
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert problem in result.stderr and not (tmp_path / "results").exists()


def test_a_study_may_be_a_module_whose_default_grids_run_when_none_is_named(tmp_path):
    (tmp_path / "mystudy.py").write_text(
        'GRIDS = {"a": [{"base": {"hidden": [8]}}], "b": [{"base": {"hidden": [16]}}]}\n'
        'DEFAULT_GRIDS = ["b"]\nREPORTS = {"b": {"references": ["a"]}}\n'
    )
    result = run_all(
        "--study",
        "mystudy",
        "--list",
        "--results-dir",
        str(tmp_path / "results"),
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "b: 1 runs"


SMOKE_BLOCK = [{"base": {"dataset": "digits", "hidden": [8], "epochs": 1}}]
# (a grid name, the line expected): a grid names a folder under --results-dir and --reports-dir
BAD_GRID_NAMES = [
    ("../escaped", "grid name '../escaped' is not a plain name"),
    ("a/b", "grid name 'a/b' is not a plain name"),
    (".hidden", "grid name '.hidden' is not a plain name"),
    ("", "grid name '' is not a plain name"),
]


@pytest.mark.parametrize("name,message", BAD_GRID_NAMES)
def test_a_grid_name_that_is_not_plain_is_one_line_exit_2(name, message, tmp_path, capsys):
    import run_all

    (tmp_path / "grids.json").write_text(json.dumps({name: SMOKE_BLOCK}))
    with pytest.raises(SystemExit) as stop:
        run_all.main(
            [
                "--grid-file",
                str(tmp_path / "grids.json"),
                "--grid",
                name,
                "--results-dir",
                str(tmp_path / "results"),
                "--reports-dir",
                str(tmp_path / "reports"),
            ]
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and message in lines[0], lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids.json"]


def test_a_study_grid_name_that_is_not_plain_is_one_line_exit_2(tmp_path):
    (tmp_path / "study.py").write_text(f"GRIDS = {{'../escaped': {SMOKE_BLOCK!r}}}\n")
    result = run_all(
        "--study",
        "study.py",
        "--results-dir",
        "out/results",
        "--reports-dir",
        "out/reports",
        cwd=tmp_path,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "--study study.py: grid name '../escaped' is not a plain name" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.py"]


def test_list_shows_the_dataset_a_block_sets(tmp_path, capsys):
    import run_all

    (tmp_path / "grids.json").write_text(
        json.dumps(
            {"g": [{"base": {"dataset": "digits", "hidden": [8]}, "axes": {"seed": [0, 1]}}]}
        )
    )
    assert (
        run_all.main(
            [
                "--grid-file",
                str(tmp_path / "grids.json"),
                "--grid",
                "g",
                "--list",
                "--results-dir",
                str(tmp_path / "results"),
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:4]] == ["run_id", "dataset", "seed"]
    assert [line.split("|")[2].strip() for line in lines[2:4]] == ["digits", "digits"]
    assert lines[-1] == "g: 2 runs"
