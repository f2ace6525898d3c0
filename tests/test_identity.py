"""A run id names everything that decides the run's result, once users extend the harness: the
user's modules a study imports, the built-ins (a plugin may not change them), a component's
defaults, a user dataset's bytes. Each identity case compares an existing results folder with a
fresh one: the same ids must hold the same records. Plugins load in subprocesses only
(test_plugins.cli), so this process's registries stay the built-in ones. The identity cases
train with --jobs 1 (in the command's process): ids are named in the client whatever the
workers, and that workers load a study's modules is test_plugins' and test_extend_installed's."""

import json
import os
import sys

import pytest

from helpers import run_all_process, timeless
from ablations import plugins, user_code
from ablations.grid.loaded import REGISTRIES
from ablations.records.store import read_records

from test_plugins import BASE, PLUG_GRID, ROOT, SIGNSGD, assert_one_line_exit_2, cli, to_train
from test_user_datasets import arrays, save_npz

HELPER = SIGNSGD.replace('@OPTIMIZERS.register("signsgd")\n', "")  # the class, unregistered
STUDY_WITH_HELPER = (
    """\
from nn_core import OPTIMIZERS

from helper_opt import SignSGD

OPTIMIZERS.register("signsgd")(SignSGD)
GRIDS = {"mine": [{"base": %r, "axes": {"optimizer": [{"optimizer": "adam"},
                                                      {"optimizer": "signsgd"}],
                                        "seed": [0, 1]}}]}
"""
    % BASE
)


def records(folder, grid):
    return {rid: timeless(r) for rid, r in read_records(folder / grid, print).items()}


SIGN_STEP = "import numpy as np\n\n\ndef step(g):\n    return np.sign(g)\n"
LAZY_PLUGIN = SIGNSGD.replace(
    "p -= self.lr * np.sign(g)", "from sign_step import step\n\n        p -= self.lr * step(g)"
)
DYNAMIC_PLUGIN = SIGNSGD.replace(
    "p -= self.lr * np.sign(g)",
    "import importlib\n\n        p -= self.lr * importlib.import_module('sign_step').step(g)",
)
# Each case: its files, the arguments that load it, the file a user edits and the edit; the
# runs of the grid's signsgd level (2 of its 4) rest on that file, the adam runs do not.
HELPER_EDITS = {
    "a study's helper imported at the top": (
        {"helper_opt.py": HELPER, "study.py": STUDY_WITH_HELPER},
        ["--study", "study.py"],
        "mine",
        "helper_opt.py",
        ("np.sign(g)", "0.5 * np.sign(g)"),
    ),
    "a plugin's helper imported inside update": (
        {"sign_step.py": SIGN_STEP, "lazy.py": LAZY_PLUGIN, "grid.json": json.dumps(PLUG_GRID)},
        ["--plugin", "./lazy.py", "--grid-file", "grid.json", "--grid", "plug"],
        "plug",
        "sign_step.py",
        ("np.sign(g)", "0.5 * np.sign(g)"),
    ),
    "a plugin's helper loaded by importlib.import_module inside update": (
        {"sign_step.py": SIGN_STEP, "dyn.py": DYNAMIC_PLUGIN, "grid.json": json.dumps(PLUG_GRID)},
        ["--plugin", "./dyn.py", "--grid-file", "grid.json", "--grid", "plug"],
        "plug",
        "sign_step.py",
        ("np.sign(g)", "0.5 * np.sign(g)"),
    ),
}


@pytest.mark.parametrize("name", HELPER_EDITS)
def test_editing_a_helper_module_retrains_exactly_its_runs(tmp_path, name):
    files, args, grid, edited, (old, new) = HELPER_EDITS[name]
    for file, text in files.items():
        (tmp_path / file).write_text(text)
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    assert to_train(cli([*args, "--jobs", "1"], tmp_path, env), grid) == (0, 4)
    (tmp_path / edited).write_text(files[edited].replace(old, new))
    assert to_train(cli([*args, "--jobs", "1"], tmp_path, env), grid) == (2, 2)  # signsgd's
    assert to_train(cli([*args, "--jobs", "1"], tmp_path, env), grid) == (4, 0)
    fresh = cli([*args, "--jobs", "1", "--results-dir", "fresh"], tmp_path, env)
    assert fresh.returncode == 0, fresh.stderr
    existing, again = records(tmp_path / "results", grid), records(tmp_path / "fresh", grid)
    assert set(again) <= set(existing) and len(existing) == 6  # the old signsgd records stay
    assert all(existing[rid] == record for rid, record in again.items())


# Modules of a user's tree (under tmp_path, on sys.path) and the user modules that the source of
# `plugin_mod` reaches through its import statements, found without importing any of them.
STATIC_IMPORTS = {
    "an import inside a function": (
        {"plugin_mod": "def f():\n    import lazy_a\n", "lazy_a": ""},
        {"lazy_a"},
    ),
    "a helper's helper, inside a method": (
        {
            "plugin_mod": "import top_b\n",
            "top_b": "class C:\n    def m(self):\n        from deep_c import x\n",
            "deep_c": "x = 1\n",
        },
        {"top_b", "deep_c"},
    ),
    "a submodule of a package not imported, and its package": (
        {
            "plugin_mod": "def f():\n    from pkg_d.sub import y\n",
            "pkg_d/__init__": "",
            "pkg_d/sub": "y = 1\n",
        },
        {"pkg_d", "pkg_d.sub"},
    ),
    "a relative import inside the package": (
        {
            "plugin_mod": "import pkg_e\n",
            "pkg_e/__init__": "def f():\n    from . import rel\n",
            "pkg_e/rel": "",
        },
        {"pkg_e", "pkg_e.rel"},
    ),
    "importlib.import_module and __import__ with a literal name, at run time": (
        {
            "plugin_mod": (
                "import importlib\n\n\ndef f():\n    importlib.import_module('dyn_f')\n"
                "    return __import__('pkg_g.sub')\n"
            ),
            "dyn_f": "",
            "pkg_g/__init__": "",
            "pkg_g/sub": "",
        },
        {"dyn_f", "pkg_g", "pkg_g.sub"},
    ),
    "import_module of a relative name inside the package": (
        {
            "plugin_mod": "import pkg_h\n",
            "pkg_h/__init__": (
                "from importlib import import_module\n\n\ndef f():\n"
                "    return import_module('.rel', __package__)\n"
            ),
            "pkg_h/rel": "",
        },
        {"pkg_h", "pkg_h.rel"},
    ),
    "import_module of a name computed at run time, and other calls": (
        {
            "plugin_mod": (
                "import importlib\n\n\ndef f(n):\n    importlib.import_module('dyn_' + n)\n"
                "    print('dyn_i')\n"
            ),
            "dyn_i": "",
        },
        set(),
    ),
    "installed, standard library, harness and missing modules": (
        {
            "plugin_mod": "def f():\n    import numpy, json, nn_core.optimizers, no_such_module\n    from os import path\n"
        },
        set(),
    ),
}


@pytest.mark.parametrize("name", STATIC_IMPORTS)
def test_the_imports_a_plugin_states_are_found_without_importing_them(tmp_path, monkeypatch, name):
    modules, expected = STATIC_IMPORTS[name]
    for module, text in modules.items():
        (tmp_path / f"{module}.py").parent.mkdir(exist_ok=True)
        (tmp_path / f"{module}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    found = user_code.imported_files({"plugin_mod": str(tmp_path / "plugin_mod.py")})
    assert set(found) == expected
    for module, file in found.items():
        assert file == str(tmp_path / f"{module.replace('.', '/')}.py") or file == str(
            tmp_path / module.replace(".", "/") / "__init__.py"
        )
        assert module not in sys.modules


WORKER_MODES = {
    "jobs 1": ["--jobs", "1"],
    "jobs 2": ["--jobs", "2"],
    "local:2": ["--scheduler", "local:2"],
}


def metrics(folder):
    """{run id: the JSON text of its test accuracy and history, times left out}."""
    return {
        rid: json.dumps([r["test_acc"], timeless(r)["history"]], sort_keys=True)
        for rid, r in read_records(folder, print).items()
    }


def test_a_study_gives_byte_identical_metrics_with_any_workers(tmp_path):
    """A study file's component (shipped to the workers as text) whose update imports a helper
    at run time (found on the workers' path): the same ids and the same bytes of test accuracy
    and history whatever runs them."""
    pytest.importorskip("distributed")
    (tmp_path / "sign_step.py").write_text(SIGN_STEP)
    (tmp_path / "study.py").write_text(
        LAZY_PLUGIN + "\n\nGRIDS = " + repr({"mine": PLUG_GRID["plug"]}) + "\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    found = {}
    for name, mode in WORKER_MODES.items():
        result = cli(["--study", "study.py", *mode, "--results-dir", name], tmp_path, env)
        assert result.returncode == 0, result.stderr
        found[name] = metrics(tmp_path / name / "mine")
    assert len(found["jobs 1"]) == 4
    assert found["jobs 1"] == found["jobs 2"] == found["local:2"]


LEVELS = '"""The optimizer levels."""\nSCALE = 1.0\nLEVELS = %r\n'
STUDY_WITH_LEVELS = (
    """\
from nn_core import OPTIMIZERS

from helper_opt import SignSGD
from my_levels import LEVELS

OPTIMIZERS.register("signsgd")(SignSGD)
GRIDS = {"mine": [{"base": %r, "axes": {"optimizer": LEVELS, "seed": [0, 1]}}]}
"""
    % BASE
)
TWO_LEVELS = [{"optimizer": "adam"}, {"optimizer": "signsgd"}]
THREE_LEVELS = [*TWO_LEVELS, {"optimizer": "signsgd", "lr": 0.01, "label": "signsgd_fast"}]
# A helper of grid values (my_levels) gains a level: (done, to train) then, of the 6 runs.
LEVEL_HELPERS = {
    "read only by GRIDS: out of the hash, only the new level trains": (HELPER, (4, 2)),
    "a value read by the component's module: in the hash, signsgd retrains": (
        HELPER.replace(
            "import numpy as np", "import numpy as np\n\nfrom my_levels import SCALE"
        ).replace("np.sign(g)", "SCALE * np.sign(g)"),
        (2, 4),
    ),
}


@pytest.mark.parametrize("name", LEVEL_HELPERS)
def test_a_helper_of_grid_values_changes_the_study_hash_only_when_code_reads_it(tmp_path, name):
    helper, after = LEVEL_HELPERS[name]
    (tmp_path / "helper_opt.py").write_text(helper)
    (tmp_path / "my_levels.py").write_text(LEVELS % TWO_LEVELS)
    (tmp_path / "study.py").write_text(STUDY_WITH_LEVELS)
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    args = ["--study", "study.py", "--jobs", "1"]
    assert to_train(cli(args, tmp_path, env), "mine") == (0, 4)
    (tmp_path / "my_levels.py").write_text(LEVELS % THREE_LEVELS)
    assert to_train(cli(args, tmp_path, env), "mine") == after
    fresh = cli([*args, "--results-dir", "fresh"], tmp_path, env)
    assert fresh.returncode == 0, fresh.stderr
    existing, again = records(tmp_path / "results", "mine"), records(tmp_path / "fresh", "mine")
    assert len(again) == 6 and set(again) <= set(existing)
    assert all(existing[rid] == record for rid, record in again.items())


# A study taking names from a helper `levels` (LEVELS = [...]), and whether the helper stays out
# of its code hash.
GRID_VALUE_CASES = {
    "read in GRIDS only": ("from levels import LEVELS\nGRIDS = {'g': LEVELS}\n", {}, True),
    "the module read in GRIDS only": ("import levels\nGRIDS = {'g': levels.LEVELS}\n", {}, True),
    "read outside GRIDS too": (
        "from levels import LEVELS\nN = len(LEVELS)\nGRIDS = {'g': LEVELS}\n",
        {},
        False,
    ),
    "read in a function": (
        "from levels import LEVELS\n\ndef f():\n    return LEVELS\n\nGRIDS = {'g': LEVELS}\n",
        {},
        False,
    ),
    "a star import": ("from levels import *\nGRIDS = {'g': LEVELS}\n", {}, False),
    "GRIDS read by the code": (
        "from levels import LEVELS\nGRIDS = {'g': LEVELS}\nN = len(GRIDS)\n",
        {},
        False,
    ),
    "the helper computes a value": (
        "from levels import LEVELS\nGRIDS = {'g': LEVELS}\n",
        {"levels": "LEVELS = [dict(lr=x) for x in (1, 2)]\n"},
        False,
    ),
    "the helper defines a function": (
        "from levels import LEVELS\nGRIDS = {'g': LEVELS}\n",
        {"levels": "LEVELS = [1]\n\ndef f():\n    return 2\n"},
        False,
    ),
    "another helper imports it": (
        "from levels import LEVELS\nimport other\nGRIDS = {'g': LEVELS}\n",
        {"other": "def f():\n    from levels import LEVELS\n\n    return LEVELS\n"},
        False,
    ),
}


@pytest.mark.parametrize("name", GRID_VALUE_CASES)
def test_grid_values_only_leaves_out_a_helper_only_when_it_is_safe(tmp_path, name):
    study, files, left_out = GRID_VALUE_CASES[name]
    files = {
        "levels": '"""Levels."""\nimport math\n\nLEVELS = [{"lr": 1e-3}, (1, None)]\n',
        **files,
    }
    for module, text in files.items():
        (tmp_path / f"{module}.py").write_text(text)
    helpers = [(module, str(tmp_path / f"{module}.py"), "") for module in files]
    assert user_code.grid_values_only(study, helpers) == ({"levels"} if left_out else set())


PATCHES = {
    "a method of a built-in optimizer": (
        "from nn_core.optimizers import SGD\n\n"
        "def update(self, p, g, state, decay):\n    p -= 2 * self.lr * g\n\nSGD.update = update\n",
        "the built-in optimizer 'sgd'.SGD.update",
    ),
    "a built-in initializer overwritten": (
        "from nn_core import INITIALIZERS\n\nINITIALIZERS['he_uniform'] = INITIALIZERS['glorot_normal']\n",
        "the built-in initializer 'he_uniform'",
    ),
    "a constructor default": (
        "from nn_core.optimizers import Momentum\n\nMomentum.__init__.__defaults__ = (1e-3, 0.5)\n",
        "the built-in optimizer 'momentum'.Momentum.__init__.__defaults__",
    ),
    "a SCHEMA default": (
        "from nn_core.settings import Setting\nfrom ablations.grid.config import SCHEMA\n\n"
        "SCHEMA['epochs'] = Setting(3, (int,))\n",
        "the built-in setting 'epochs'",
    ),
    "a harness function a trainer calls": (
        "import ablations.train.trainers as t\n\nt.train_fit = lambda model, X, y: {}\n",
        "the built-in trainer 'nn_core'",
    ),
}


@pytest.mark.parametrize("name", PATCHES)
def test_a_plugin_that_changes_a_built_in_is_refused(tmp_path, name):
    source, fragment = PATCHES[name]
    (tmp_path / "patch.py").write_text(source)
    line = assert_one_line_exit_2(
        cli(["--plugin", "./patch.py", "--grid", "smoke"], tmp_path),
        "--plugin ./patch.py: it changes",
        fragment,
        "never change a built-in",
    )
    assert "Traceback" not in line and not (tmp_path / "results").exists()


OPTIMIZER = """\
from nn_core import OPTIMIZERS
from nn_core.optimizers import Optimizer


@OPTIMIZERS.register("mine")
class Mine(Optimizer):
    def __init__(self, {arguments}):
        super().__init__(lr)

    def update(self, p, g, state, decay):
        p -= self.lr * g
"""
REGULARIZER = """\
from nn_core import REGULARIZERS
from nn_core.regularizers import Regularizer
from nn_core.settings import Setting, number


@REGULARIZERS.register("max_norm")
class MaxNorm(Regularizer):
    settings = {{"max_norm": Setting({default}, (float,), number(0))}}

    def __init__(self, max_norm=3.0):
        self.max_norm = max_norm
"""
TRAINER = """\
from ablations.train.trainers import register_trainer, train_nn_core

register_trainer("mine", honours={"dataset", "seed", "epochs"})(train_nn_core)
"""
SETTING = """\
from nn_core.settings import Setting
from ablations.grid.config import SCHEMA

SCHEMA[{key!r}] = Setting({default!r}, ({kind},))
"""
BAD_COMPONENTS = {
    "a mutable default argument": (
        OPTIMIZER.format(arguments="lr=1e-3, seen=[]"),
        "optimizer 'mine': the argument 'seen' defaults to a list",
    ),
    "an argument without a default": (
        OPTIMIZER.format(arguments="lr=1e-3, *, mom"),
        "optimizer 'mine': the argument 'mom' has no default",
    ),
    "a regularizer on by default": (
        REGULARIZER.format(default=3.0),
        "regularizer 'max_norm' is on in a run that does not name it",
        "max_norm=3.0",
        "must default to off",
    ),
    "a trainer not honouring 'trainer'": (
        TRAINER,
        "trainer 'mine': honours= must include 'trainer'",
    ),
    "a number setting on by default": (
        SETTING.format(key="clip_scale", default=1.0, kind="float"),
        "the setting 'clip_scale' defaults to 1.0, which is not off",
        "must default to off",
    ),
    "a flag setting on by default": (
        SETTING.format(key="use_ema", default=True, kind="bool"),
        "the setting 'use_ema' defaults to True, which is not off",
    ),
    "a text setting on by default": (
        SETTING.format(key="mix_mode", default="mixup", kind="str"),
        "the setting 'mix_mode' defaults to 'mixup', which is not off",
    ),
    "a list setting on by default": (
        SETTING.format(key="extra_layers", default=[8], kind="list"),
        "the setting 'extra_layers' defaults to [8], which is not off",
    ),
    "a setting that takes a built-in's argument": (
        SETTING.format(key="momentum", default=0.0, kind="float"),
        "the setting 'momentum' is an argument of optimizer 'momentum'",
        "name the setting otherwise",
    ),
}


@pytest.mark.parametrize("name", BAD_COMPONENTS)
def test_a_component_that_cannot_name_its_runs_is_refused_at_registration(tmp_path, name):
    source, *fragments = BAD_COMPONENTS[name]
    (tmp_path / "comp.py").write_text(source)
    assert_one_line_exit_2(
        cli(["--plugin", "./comp.py", "--grid", "smoke"], tmp_path),
        "--plugin ./comp.py: ",
        *fragments,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp.py"]  # nothing written


OFF_COMPONENTS = {
    "a regularizer off by default": REGULARIZER.format(default=0.0),
    **{
        f"a {kind} setting at {default!r}": SETTING.format(key="x_new", default=default, kind=kind)
        for kind, default in [
            ("float", 0.0),
            ("int", 0),
            ("bool", False),
            ("str", "none"),
            ("str", ""),
            ("list", []),
            ("dict", {}),
        ]
    },
    "an optional setting at None": SETTING.replace("))", "), optional=True)").format(
        key="x_new", default=None, kind="float"
    ),
}


@pytest.mark.parametrize("name", OFF_COMPONENTS)
def test_a_component_off_by_default_loads_and_leaves_built_in_ids(tmp_path, name):
    (tmp_path / "comp.py").write_text(OFF_COMPONENTS[name])
    listed = cli(["--plugin", "./comp.py", "--grid", "smoke", "--list"], tmp_path)
    plain = cli(["--grid", "smoke", "--list"], tmp_path)
    assert listed.returncode == 0 and listed.stdout == plain.stdout, listed.stderr


BAD_STUDIES = {
    "no GRIDS (a misspelt GRID)": (
        'GRID = {"x": [{"base": {}}]}\n',
        "defines no GRIDS",
        "it defines GRID",
    ),
    "DEFAULT_GRIDS not a list": (
        'GRIDS = {"x": [{"base": {}}]}\nDEFAULT_GRIDS = 5\n',
        "DEFAULT_GRIDS must be a list of grids it defines (x), got 5",
    ),
    "REPLACES not a set": (
        'GRIDS = {"x": [{"base": {}}]}\nREPLACES = 5\n',
        "REPLACES must be a set of grid names, got 5",
    ),
    "sys.exit at import": (
        "import sys\n\nsys.exit(0)\n",
        "it calls sys.exit(0) while it is imported",
    ),
    "argv parsed at import": (
        "import argparse\n\nparser = argparse.ArgumentParser()\n"
        "parser.add_argument('--lr', required=True)\nparser.parse_args()\n",
        "it calls sys.exit(2) while it is imported",
        "the following arguments are required: --lr",
        "must not exit or parse the command line",
    ),
}


@pytest.mark.parametrize("name", BAD_STUDIES)
def test_a_bad_study_is_one_line_naming_it(tmp_path, name):
    source, *fragments = BAD_STUDIES[name]
    (tmp_path / "study.py").write_text(source)
    assert_one_line_exit_2(cli(["--study", "study.py"], tmp_path), "--study study.py: ", *fragments)
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


def test_a_plugin_folder_without_init_is_one_line(tmp_path):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "opt.py").write_text(SIGNSGD)
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    assert_one_line_exit_2(
        cli(["--plugin", "mypkg", "--grid", "smoke"], tmp_path, env),
        "--plugin mypkg: is a folder without __init__.py",
        "add mypkg/__init__.py",
    )
    assert_one_line_exit_2(
        cli(["--plugin", "./mypkg", "--grid", "smoke"], tmp_path, env),
        "--plugin ./mypkg: is a folder; give a .py file",
    )


DATA_STUDY = """\
import hashlib

from ablations.data.user_datasets import array_dataset

PATH = "{path}"
array_dataset("user_arrays", PATH, hashlib.sha256(open(PATH, "rb").read()).hexdigest(),
              class_names="abc", image_shape=(4, 4), val_size=20)
GRIDS = {{"mine": [{{"base": {{"dataset": "user_arrays", "hidden": [8], "epochs": 2}},
                   "axes": {{"seed": {seeds}}}}}]}}
"""


def test_a_replaced_npz_retrains_its_runs_and_a_new_seed_never_mixes_files(tmp_path):
    path = tmp_path / "a.npz"
    save_npz(path, arrays())
    study = tmp_path / "study.py"
    study.write_text(DATA_STUDY.format(path=path, seeds=[0, 1]))
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], tmp_path), "mine") == (0, 2)
    new = {**arrays(), "x_train": 255 - arrays()["x_train"]}
    sha = save_npz(path, new)
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], tmp_path), "mine") == (0, 2)
    study.write_text(DATA_STUDY.format(path=path, seeds=[0, 1, 2]))
    assert to_train(cli(["--study", "study.py", "--jobs", "1"], tmp_path), "mine") == (2, 1)
    grid = json.loads((tmp_path / "results" / "mine" / "grid.json").read_text())
    planned = {run["run_id"] for run in grid}
    existing = records(tmp_path / "results", "mine")
    current = {rid: r for rid, r in existing.items() if r["config"]["data_sha256"] == sha}
    assert len(current) == 3 and len(existing) == 5  # the old file's 2 records under old ids
    assert planned == set(current)
    fresh = cli(["--study", "study.py", "--jobs", "1", "--results-dir", "fresh"], tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    assert records(tmp_path / "fresh", "mine") == current


LEAKY = (
    SIGNSGD.replace(
        '@OPTIMIZERS.register("signsgd")\nclass SignSGD',
        "CALLS = [0]  # grows with every optimizer made in this process\n\n\n"
        '@OPTIMIZERS.register("leaky")\nclass Leaky',
    )
    .replace(
        "super().__init__(lr)",
        "super().__init__(lr)\n        CALLS[0] += 1\n        self.scale = CALLS[0]",
    )
    .replace("np.sign(g)", "self.scale * g")
)
GLOBAL_RNG = SIGNSGD.replace('"signsgd"', '"noisy"').replace(
    "np.sign(g)", "np.sign(g) * np.random.default_rng().uniform(0.5, 1.5)"
)


def test_check_trains_each_new_component_three_times_and_says_whether_they_agree(tmp_path):
    for name, source in [("good.py", SIGNSGD), ("leaky.py", LEAKY), ("noisy.py", GLOBAL_RNG)]:
        (tmp_path / name).write_text(source)

    def check(*args):
        return run_all_process("check", *args, cwd=tmp_path, data_dir=tmp_path / "data")

    good = check("--plugin", "./good.py")
    assert good.returncode == 0, good.stderr
    assert good.stdout == (
        "optimizer 'signsgd': the same in 3 runs (twice in one process, once in a fresh one)\n"
    )
    bad = check("--plugin", "./leaky.py", "--plugin", "./noisy.py")
    lines = bad.stdout.splitlines()
    assert bad.returncode == 1 and len(lines) == 2, bad.stdout + bad.stderr
    assert lines[0].startswith("optimizer 'leaky': differs in a second run in this process")
    assert lines[1].startswith(
        "optimizer 'noisy': differs in a second run in this process"
    ) or lines[1].startswith("optimizer 'noisy': differs in a run in a fresh process")
    assert_one_line_exit_2(check(), "name what to check")


def test_the_built_in_snapshot_sees_a_patched_method_and_nothing_else(monkeypatch):
    from ablations.grid import builtins
    from nn_core.optimizers import SGD

    before, walked = builtins.snapshot(), [path for path, _ in builtins.roots()]
    assert builtins.changed(before, walked) is None
    monkeypatch.setattr(SGD, "update", lambda self, p, g, state, decay: None)
    assert builtins.changed(before, walked) == "optimizer 'sgd'.SGD.update"
    monkeypatch.undo()
    assert builtins.changed(before, walked) is None


@pytest.mark.parametrize(
    "kind, name", [(r.kind, name) for r in REGISTRIES for name in r], ids=lambda x: str(x)
)
def test_every_built_in_component_keeps_the_rules_a_plugin_is_held_to(kind, name):
    assert plugins.component_problem(kind, name, plugins.registry_of(kind)[name]) is None
