"""docs/extending.md's "The hooks a regularizer can use": its max-norm example, run as printed
(the file as a plugin, the command with its grid), the bound it promises checked on the
weights of a fit, and a bound that never binds flagged in the report. About 30 s of CPU."""

import json
import os
import re
import shlex
import subprocess
import sys

from test_plugins import ROOT, cli

SECTION = "## The hooks a regularizer can use"
BOUND = 0.5

FIT = """
import importlib.util, sys
import numpy as np
from sklearn.datasets import load_digits
from nn_core import MLP, OPTIMIZERS, REGULARIZERS, fit

spec = importlib.util.spec_from_file_location("max_norm", "max_norm.py")
spec.loader.exec_module(importlib.util.module_from_spec(spec))
X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
for regularizers in ([], [REGULARIZERS.create("max_norm", max_norm=float(sys.argv[1]))]):
    model = MLP([64, 32, 10], np.random.default_rng(0))
    fit(model, X, y, optimizer=OPTIMIZERS.create("sgd", lr=0.5), rng=np.random.default_rng(1),
        epochs=5, batch_size=32, regularizers=regularizers)
    print(max(float(np.linalg.norm(layer.W, axis=0).max()) for layer in model.dense))
"""


def docs_section():
    text = (ROOT / "docs" / "extending.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_max_norm_example_bounds_every_unit_and_trains_as_printed(tmp_path):
    section = docs_section()
    (python,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (bash,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    (grid,) = re.findall(r"`(\{\"max_norm\": .*?)`\.", section)
    (tmp_path / "max_norm.py").write_text(python)
    (tmp_path / "max_norm.json").write_text(json.dumps(json.loads(grid)))

    fitted = subprocess.run(
        [sys.executable, "-c", FIT, str(BOUND)],
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert fitted.returncode == 0, fitted.stderr
    free, bounded = map(float, fitted.stdout.split())
    assert free > BOUND and bounded <= BOUND * (1 + 1e-5), (free, bounded)

    (command,) = [shlex.split(line, comments=True) for line in bash.splitlines()]
    assert command[0] == "scratchbench"
    result = cli(command[1:], tmp_path)  # run_all.py takes the same arguments
    assert result.returncode == 0, result.stderr
    records = [
        json.loads(p.read_text())
        for p in (tmp_path / "results" / "max_norm").glob("*.json")
        if p.name != "grid.json"
    ]
    assert sorted(r["labels"]["regularization"] for r in records) == ["max_norm", "none"]
    assert all(r["status"] == "ok" for r in records)


def test_a_max_norm_that_never_binds_is_flagged_on_the_first_screen(tmp_path):
    """The same example with a bound no unit reaches (its runs are the baseline's, bit for bit)
    and one that binds: the report says the first never changed a run, and only the first."""
    (python,) = re.findall(r"```python\n(.*?)```", docs_section(), re.S)
    (tmp_path / "max_norm.py").write_text(python)
    levels = [
        {"label": "none"},
        {"label": "loose", "max_norm": 1e6},
        {"label": "tight", "max_norm": BOUND},
    ]
    base = {"dataset": "digits", "hidden": [32], "epochs": 3}
    grid = {"bound": [{"base": base, "axes": {"regularization": levels, "seed": [0, 1]}}]}
    (tmp_path / "bound.json").write_text(json.dumps(grid))
    result = cli(
        ["--plugin", "max_norm.py", "--grid-file", "bound.json", "--grid", "bound"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    first_screen = (tmp_path / "reports" / "bound.md").read_text().split("\n## ")[0]
    flagged = [line for line in first_screen.splitlines() if line.startswith("**Never acted**")]
    assert len(flagged) == 1, flagged
    assert flagged[0].startswith(
        "**Never acted**: regularization `loose` never changed a run (digits): in all 2 of its "
        "pairs with `none`"
    )
