"""Plugins and study files (ablations/plugins.py): loaded in the parent and in every worker, tied to
the runs that use them, and every slip one line with exit code 2 and nothing written.

Plugins are loaded in subprocesses only (`run_all.py`), so that this process's registries stay
the built-in ones for the other tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ablations import plugins, user_code
from ablations.grid import loaded
from ablations.grid.config import SCHEMA
from ablations.grid.expand import expand_grid
from ablations.grid.examples import GRIDS
from ablations.records.store import read_records

ROOT = Path(__file__).resolve().parents[1]
SIGNSGD = '''\
import numpy as np

from nn_core import OPTIMIZERS
from nn_core.optimizers import Optimizer


@OPTIMIZERS.register("signsgd")
class SignSGD(Optimizer):
    """p <- p - lr sign(g)."""

    def __init__(self, lr=1e-3):
        super().__init__(lr)

    def update(self, p, g, state, decay):
        p -= self.lr * np.sign(g)
'''
# Imports only in the first process that imports it (its pid goes into the environment the
# workers inherit): a plugin the parent has and the workers cannot load.
FIRST_PROCESS_ONLY = (
    """\
import os

if os.environ.setdefault("SIGNSGD_HOME_PID", str(os.getpid())) != str(os.getpid()):
    raise ImportError("this plugin imports only in the process that loaded it first")
"""
    + SIGNSGD
)
BASE = {"dataset": "digits", "hidden": [16], "epochs": 2, "batch_size": 64}
OPTIMIZER_AXIS = [{"optimizer": "adam", "lr": 1e-3}, {"optimizer": "signsgd", "lr": 1e-3}]
PLUG_GRID = {"plug": [{"base": BASE, "axes": {"optimizer": OPTIMIZER_AXIS, "seed": [0, 1]}}]}


def cli(args, cwd, env=None):
    """run_all.py in `cwd` with results/ and reports/ there, the data cache in cwd/data."""
    environ = {k: v for k, v in os.environ.items() if k != plugins.PLUGINS_ENV}
    environ.update({"SCRATCHBENCH_DATA_DIR": str(Path(cwd) / "data"), **(env or {})})
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "run_all.py"),
            "--results-dir",
            "results",
            "--reports-dir",
            "reports",
            *args,
        ],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_exit_2(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def work(tmp_path):
    (tmp_path / "signsgd_plugin.py").write_text(SIGNSGD)
    (tmp_path / "grid.json").write_text(json.dumps(PLUG_GRID))
    return tmp_path


def to_train(result, grid="plug"):
    """(already done, to train) from the runner's 'grid ...: N runs, D already done, T to train'
    (or 'grid ...: N runs, all finished; nothing to train')."""
    line = next(l for l in result.stderr.splitlines() if l.startswith(f"grid {grid}:"))
    if line.endswith("all finished; nothing to train"):
        return int(line.split(": ")[1].split()[0]), 0
    done, train = line.split(", ")[1:3]
    return int(done.split()[0]), int(train.split()[0])


def test_component_settings_name_every_setting_that_takes_a_registry_name():
    for key, setting in SCHEMA.items():
        message = setting.check("no_such_name") if setting.check and str in setting.types else None
        if message and message.startswith("unknown "):
            assert loaded.COMPONENT_SETTINGS[key].kind == message.split()[1], key
    assert set(loaded.COMPONENT_SETTINGS) <= set(SCHEMA)


def test_a_study_code_hash_leaves_out_its_grids_and_nothing_else():
    study = 'import numpy as np\n\nGRIDS = {"a": [\n  {"base": {}}]}\nREPLACES = set()\nX = 1\n'
    same = study.replace('{"base": {}}', '{"base": {"epochs": 3}}').replace("set()", '{"a"}')
    assert user_code.study_code_sha256(study) == user_code.study_code_sha256(same)
    assert user_code.study_code_sha256(study) != user_code.study_code_sha256(
        study.replace("1", "2")
    )
    one_line = "GRIDS = {}; X = 1\n"  # code on a grid statement's line: all of it counts
    assert user_code.study_code_sha256(one_line) != user_code.study_code_sha256(
        one_line.replace("1", "2")
    )
    reads_grids = study + "Y = len(GRIDS)\n"  # the grids now matter to the code: all of it counts
    assert user_code.study_code_sha256(reads_grids) != user_code.study_code_sha256(
        reads_grids.replace('{"base": {}}', '{"base": {"epochs": 3}}')
    )


def test_stamp_marks_only_the_runs_that_use_a_plugin(monkeypatch):
    plugin = loaded.Plugin(
        "p.py",
        "plugin",
        "m",
        "/p.py",
        "f" * 64,
        "c" * 64,
        registers=(("optimizer", "signsgd"),),
        settings=("clip_norm",),
    )
    monkeypatch.setitem(loaded.LOADED, plugin.name, plugin)
    (adam,) = expand_grid("g", [{"base": BASE}])
    assert "plugins" not in adam.config
    assert loaded.stamp({**adam.config, "optimizer": "signsgd"})["plugins"] == {"p.py": "c" * 64}
    assert loaded.stamp({**adam.config, "clip_norm": 1.0})["plugins"] == {"p.py": "c" * 64}


def test_a_plugin_loads_in_the_workers_and_leaves_other_run_ids(work):
    """In loky's workers (--jobs 2): each record names the plugin, and the runs that use no
    plugin component keep their ids. That --jobs 1, --jobs 2 and local:2 give identical records
    with this plugin and grid is test_extend_installed's (the same SIGNSGD and PLUG_GRID)."""
    result = cli(
        ["--plugin", "signsgd_plugin", "--grid-file", "grid.json", "--grid", "plug", "--jobs", "2"],
        work,
        env={"PYTHONPATH": f"{work}{os.pathsep}{ROOT}"},
    )
    assert result.returncode == 0, result.stderr
    found = read_records(work / "results" / "plug", print)
    assert len(found) == 4 and all(r["status"] == "ok" for r in found.values())
    for record in found.values():
        (plugin,) = record["environment"]["plugins"]
        assert plugin["name"] == "signsgd_plugin" and plugin["registers"] == ["optimizer signsgd"]
        assert plugin["sha256"] == plugins.sha256_hex(SIGNSGD.encode())
    adam_ids = {
        r.run_id
        for r in expand_grid(
            "plug", [{"base": BASE, "axes": {"optimizer": OPTIMIZER_AXIS[:1], "seed": [0, 1]}}]
        )
    }
    by_optimizer = {r["config"]["optimizer"]: set() for r in found.values()}
    for rid, r in found.items():
        by_optimizer[r["config"]["optimizer"]].add(rid)
    assert by_optimizer["adam"] == adam_ids  # ids of runs without plugin components unchanged


def test_a_changed_plugin_retrains_its_runs_and_an_unchanged_one_trains_nothing(work):
    args = [
        "--plugin",
        "./signsgd_plugin.py",
        "--grid-file",
        "grid.json",
        "--grid",
        "plug",
        "--jobs",
        "2",
    ]
    assert to_train(cli(args, work)) == (0, 4)
    assert to_train(cli(args, work)) == (4, 0)
    (work / "signsgd_plugin.py").write_text(SIGNSGD + "# changed\n")
    assert to_train(cli(args, work)) == (2, 2)  # the signsgd runs only


def test_editing_a_study_grid_trains_only_new_runs_and_editing_its_code_retrains(work):
    grids = {"mine": [{"base": BASE, "axes": {"optimizer": OPTIMIZER_AXIS[1:], "seed": [0, 1]}}]}
    study = SIGNSGD + f"\nGRIDS = {grids!r}\n"
    (work / "study.py").write_text(study)
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], work), "mine") == (0, 2)
    (work / "study.py").write_text(study.replace("[0, 1]", "[0, 1, 2]"))
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], work), "mine") == (2, 1)
    (work / "study.py").write_text(
        study.replace("[0, 1]", "[0, 1, 2]").replace("sign(g)", "sign(g) ")
    )
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], work), "mine") == (0, 3)


@pytest.mark.parametrize("mode", [["--jobs", "2"], ["--scheduler", "local:2"]])
def test_a_worker_that_cannot_import_a_plugin_stops_everything_before_training(work, mode):
    (work / "first_only.py").write_text(FIRST_PROCESS_ONLY)
    result = cli(
        ["--plugin", "./first_only.py", "--grid-file", "grid.json", "--grid", "plug", *mode], work
    )
    assert_one_line_exit_2(
        result, "cannot load plugin first_only.py", "ImportError", "imports only in the process"
    )
    assert not (work / "results").exists()


def test_a_component_registered_by_the_running_script_is_refused_with_any_workers(work):
    (work / "wrapper.py").write_text(
        SIGNSGD + "\nimport sys\n\nfrom ablations import cli\n\nsys.exit(cli.main(sys.argv[1:]))\n"
    )
    for jobs in ("1", "2"):
        result = subprocess.run(
            [
                sys.executable,
                "wrapper.py",
                "--grid-file",
                "grid.json",
                "--grid",
                "plug",
                "--jobs",
                jobs,
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT), "SCRATCHBENCH_DATA_DIR": str(work)},
        )
        assert_one_line_exit_2(
            result, "optimizer 'signsgd' is defined in the script being run", "--plugin MODULE"
        )
        assert not (work / "results").exists()


def test_entry_points_and_the_environment_variable_load_plugins(work):
    site = work / "site"
    (site / "sbtest_ep-0.1.dist-info").mkdir(parents=True)
    (site / "sbtest_ep-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sbtest-ep\nVersion: 0.1\n"
    )
    (site / "sbtest_ep-0.1.dist-info" / "entry_points.txt").write_text(
        f"[{plugins.ENTRY_POINT_GROUP}]\nsignsgd = sbtest_ep_plugin\n"
    )
    (site / "sbtest_ep_plugin.py").write_text(SIGNSGD)
    (work / "relu_too.py").write_text(
        "from nn_core import ACTIVATIONS\nfrom nn_core.activations import ReLU\n\n\n"
        "@ACTIVATIONS.register('relu_too')\nclass ReLUToo(ReLU):\n    pass\n"
    )
    grid = {"both": [{"base": {**BASE, "optimizer": "signsgd", "activation": "relu_too"}}]}
    (work / "both.json").write_text(json.dumps(grid))
    result = cli(
        ["--grid-file", "both.json", "--grid", "both", "--jobs", "2"],
        work,
        env={
            "PYTHONPATH": f"{site}{os.pathsep}{ROOT}",
            plugins.PLUGINS_ENV: f"{work / 'relu_too.py'},",
        },
    )
    assert result.returncode == 0, result.stderr
    (record,) = read_records(work / "results" / "both", print).values()
    assert record["status"] == "ok"
    assert {p["name"] for p in record["environment"]["plugins"]} == {
        "sbtest_ep_plugin",
        "relu_too.py",
    }
    assert set(record["config"]["plugins"]) == {"sbtest_ep_plugin", "relu_too.py"}


def test_a_plugin_leaves_the_run_ids_of_built_in_grids_alone(work):
    listed = cli(["--plugin", "./signsgd_plugin.py", "--grid", "smoke", "--list"], work)
    assert listed.returncode == 0, listed.stderr
    ids = {r.run_id for r in expand_grid("smoke", GRIDS["smoke"])}
    assert ids and all(rid in listed.stdout for rid in ids)


BAD_STUDIES = {
    "a built-in grid's name": (
        'GRIDS = {"smoke": [{"base": {}}]}\n',
        "grid 'smoke' is a built-in grid",
        "REPLACES",
    ),
    "replacing a grid it lacks": (
        'GRIDS = {"x": [{"base": {}}]}\nREPLACES = {"smoke"}\n',
        "replaces 'smoke', which it does not define",
    ),
    "replacing no built-in": (
        'GRIDS = {"x": [{"base": {}}]}\nREPLACES = {"x"}\n',
        "replaces 'x', which is not a built-in grid",
    ),
    "an import that fails": (
        "import no_such_module_here\n",
        "ModuleNotFoundError",
        "no_such_module_here",
    ),
    "a name registered twice": (
        SIGNSGD + SIGNSGD.split("\n\n\n")[1],
        "ValueError",
        "optimizer 'signsgd' is already registered",
    ),
    "GRIDS not a dict": ("GRIDS = [1]\n", "GRIDS must be a dict"),
}


@pytest.mark.parametrize("name", BAD_STUDIES)
def test_a_bad_study_is_one_line_exit_2_and_nothing_written(work, name):
    source, *fragments = BAD_STUDIES[name]
    (work / "study.py").write_text(source)
    assert_one_line_exit_2(cli(["--study", "study.py"], work), "--study study.py", *fragments)
    assert not (work / "results").exists() and not (work / "reports").exists()


def test_bad_plugins_and_grid_files_are_one_line_exit_2(work):
    assert_one_line_exit_2(
        cli(["--plugin", "no_such_plugin"], work), "--plugin no_such_plugin", "ModuleNotFoundError"
    )
    assert_one_line_exit_2(
        cli(["--plugin", "signsgd_plugin"], work), "give its path: --plugin ./signsgd_plugin.py"
    )
    assert_one_line_exit_2(
        cli(["--study", "missing.py"], work), "--study missing.py", "cannot read it"
    )
    (work / "smoke.json").write_text(json.dumps({"smoke": PLUG_GRID["plug"]}))
    assert_one_line_exit_2(
        cli(["--grid-file", "smoke.json", "--list"], work),
        "grid 'smoke' is a built-in grid",
        '"replaces"',
    )
    (work / "smoke.json").write_text(
        json.dumps({"smoke": PLUG_GRID["plug"], "replaces": ["smoke"]})
    )
    replaced = cli(
        [
            "--grid-file",
            "smoke.json",
            "--grid",
            "smoke",
            "--list",
            "--plugin",
            "./signsgd_plugin.py",
        ],
        work,
    )
    assert replaced.returncode == 0 and "smoke: 4 runs" in replaced.stdout, replaced.stderr
    assert not (work / "results").exists()
