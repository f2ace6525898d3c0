"""The package as a user installs it: a wheel, installed (not editable) into a fresh virtual
environment, gives a `scratchbench` command that works from any folder."""

import subprocess
import zipfile
from pathlib import Path

import pytest

from ablations import __version__
from helpers import venv_with_wheel

ROOT = Path(__file__).resolve().parents[1]
# The wheel fixture (conftest.py) builds in the checkout (build/, *.egg-info): under pytest-xdist
# (make test's -n 2 --dist loadgroup) the modules that use it run in one worker, which builds it
# once.
pytestmark = pytest.mark.xdist_group("wheel")


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


def test_the_wheel_holds_both_packages_the_command_and_the_version(wheel):
    assert wheel.name.startswith(f"scratchbench-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert {
        "nn_core/__init__.py",
        "ablations/cli.py",
        "ablations/grid/examples.py",
        "ablations/analysis/report/__init__.py",
        "ablations/analysis/stats/__init__.py",
        *(
            f"ablations/{room}/__init__.py"
            for room in ("data", "grid", "train", "records", "run", "analysis")
        ),
    } <= set(names)
    assert not [n for n in names if n.startswith("studies/")]  # the project's study stays home
    assert not [n for n in names if n.startswith("tests/")]
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(f"scratchbench-{__version__}.dist-info/entry_points.txt")
        .decode()
    )
    assert "scratchbench = ablations.cli:main" in entry_points


def test_installed_command_runs_the_smoke_grid_from_another_folder(wheel, tmp_path):
    bin_dir, env = venv_with_wheel(wheel, tmp_path)
    venv = bin_dir.parent
    work = tmp_path / "elsewhere"
    work.mkdir()
    command = str(venv / "bin" / "scratchbench")
    where = run(
        [str(venv / "bin" / "python"), "-c", "import ablations; print(ablations.__file__)"],
        cwd=work,
        env=env,
    )
    assert where.stdout.startswith(str(venv)), where  # the installed copy, not the checkout
    help_ = run([command, "--help"], cwd=work, env=env)
    assert help_.returncode == 0 and "scratchbench --grid smoke" in help_.stdout
    smoke = run([command, "--grid", "smoke", "--jobs", "2"], cwd=work, env=env)
    assert smoke.returncode == 0, smoke.stderr
    assert len(list((work / "results" / "smoke").glob("*.json"))) == 9
    assert (work / "reports" / "smoke.md").is_file()
    assert "home/.cache/scratchbench" in help_.stdout.replace("\n", "").replace(" ", "")
