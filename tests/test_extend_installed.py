"""Extending an installed scratchbench from an empty folder: docs/extending.md's study file
("Extending from outside the tree") works as printed, and a --plugin module with a JSON grid
gives the same records with --jobs 1, --jobs 2 and --scheduler local:2 (the bar of issue 21).
Select with `-m e2e`; about a minute on 2 cores."""

import json
import re
import shlex
import subprocess

import pytest

from helpers import timeless, venv_with_wheel
from ablations.records.store import read_records
from test_package import ROOT
from test_plugins import PLUG_GRID, SIGNSGD

pytest.importorskip("distributed")
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("wheel")]  # conftest.py's wheel
SECTION = "## Extending from outside the tree"
MODES = (["--jobs", "1"], ["--jobs", "2"], ["--scheduler", "local:2"])


def docs_section():
    text = (ROOT / "docs" / "extending.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def docs_files_and_commands():
    """({file name: text} of the section's python blocks, named by their first comment line,
    and the command lines of its bash block, comments dropped)."""
    blocks = re.findall(r"```(python|bash)\n(.*?)```", docs_section(), re.S)
    files = {
        re.match(r"# (\S+\.py):", text).group(1): text for kind, text in blocks if kind == "python"
    }
    (commands,) = [text for kind, text in blocks if kind == "bash"]
    return files, [shlex.split(line, comments=True) for line in commands.splitlines()]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):  # wheel: conftest.py's, built once a session
    """(run(args, cwd, env) with the venv's bin first on PATH, an empty folder)."""
    bin_dir, env = venv_with_wheel(wheel, tmp_path_factory.mktemp("installed"))
    env["PATH"] = f"{bin_dir}:{env['PATH']}"

    def run(args, cwd, extra_env=None):
        return subprocess.run(
            args,
            cwd=cwd,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


def records(folder):
    return {rid: timeless(r) for rid, r in read_records(folder, print).items()}


def test_the_documented_study_works_as_printed_with_any_workers(installed, tmp_path):
    files, commands = docs_files_and_commands()
    assert set(files) == {"make_digits.py", "my_study.py"} and len(commands) == 3
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    outputs = []
    for command in commands:
        result = installed(command, tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        outputs.append(result.stderr)
    assert "grid my_study: 24 runs, all finished; nothing to train" in outputs[2]
    expected = records(tmp_path / "results" / "my_study")
    assert len(expected) == 24 and {r["status"] for r in expected.values()} == {"ok"}
    for mode in (["--jobs", "1"], ["--scheduler", "local:2"]):
        result = installed(
            [
                "scratchbench",
                "--study",
                "my_study.py",
                *mode,
                "--results-dir",
                "again",
                "--reports-dir",
                "again-reports",
            ],
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert records(tmp_path / "again" / "my_study") == expected, mode
        for folder in ("again", "again-reports"):
            subprocess.run(["rm", "-r", str(tmp_path / folder)], check=True)
    checked = installed(["scratchbench", "check", "--study", "my_study.py"], tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert sorted(line.split(":")[0] for line in checked.stdout.splitlines()) == [
        "activation 'softsign'",
        "dataset 'digits_npz'",
        "optimizer 'signsgd'",
        "regularizer 'l1'",
    ]
    assert all(
        line.endswith("the same in 3 runs (twice in one process, once in a fresh one)")
        for line in checked.stdout.splitlines()
    )
    report = (tmp_path / "reports" / "my_study.md").read_text()
    for factor, level, baseline in [
        ("optimizer", "signsgd", "adam"),
        ("activation", "softsign", "relu"),
        ("regularization", "l1", "none"),
    ]:
        assert re.search(rf"- \*\*{factor}\*\* on digits_npz: `{level}` .*`{baseline}`", report)


def test_a_plugin_module_and_a_json_grid_give_the_same_records_with_any_workers(
    installed, tmp_path
):
    (tmp_path / "signsgd_plugin.py").write_text(SIGNSGD)
    (tmp_path / "grid.json").write_text(json.dumps(PLUG_GRID))
    found = []
    for mode in MODES:
        result = installed(
            [
                "scratchbench",
                "--plugin",
                "signsgd_plugin",
                "--grid-file",
                "grid.json",
                "--grid",
                "plug",
                *mode,
                "--results-dir",
                mode[1],
            ],
            tmp_path,
            {"PYTHONPATH": str(tmp_path)},
        )
        assert result.returncode == 0, result.stderr
        found.append(records(tmp_path / mode[1] / "plug"))
    assert len(found[0]) == 4 and {r["status"] for r in found[0].values()} == {"ok"}
    assert found[0] == found[1] == found[2]
    assert {r["config"]["optimizer"] for r in found[0].values()} == {"adam", "signsgd"}
