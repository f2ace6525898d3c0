"""Shared by the runner tests."""
import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

TIMING_KEYS = {"finished_at", "environment", "code_version", "seconds_to_target"}


def timeless(record):
    """A record without the fields that measure time or the session (they differ run to run)."""
    out = {k: v for k, v in record.items()
           if not k.endswith(("_s", "_mb")) and k not in TIMING_KEYS}
    out["history"] = {k: v for k, v in record["history"].items() if not k.endswith("_s")}
    return out


def ctrl_c_answered():
    """preexec_fn for a runner that a test interrupts with SIGINT: a shell that starts a job in
    the background (`cmd &`) hands it SIGINT ignored, and an ignored signal stays ignored across
    exec, so the runner would never see the test's Ctrl-C. Restore the default in the child
    (Python then installs its KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def venv_with_wheel(wheel, folder):
    """(venv/bin, env) of a fresh virtual environment under `folder` with `wheel` installed (not
    editable), and an environment without PYTHONPATH and $SCRATCHBENCH_DATA_DIR whose HOME is
    `folder`/home. The dependencies come from this interpreter's site-packages, through a path
    (.pth), so no editable install of scratchbench found there is activated: only the wheel is new."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRATCHBENCH_DATA_DIR")}
    env["HOME"] = str(Path(folder) / "home")
    venv = Path(folder) / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=env)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, env=env).stdout.strip()
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # without PYTHONPATH: a checkout on it (its scratchbench.egg-info) would look installed
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps",
                              "--no-index", "--quiet", str(wheel)], capture_output=True, text=True,
                             timeout=300, env=env)
    assert install.returncode == 0, install.stderr
    assert (venv / "bin" / "scratchbench").is_file(), install.stdout
    return venv / "bin", env
