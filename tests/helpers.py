"""Shared by the tests: records (a valid synthetic one, without what varies run to run) and
runner processes."""

import os
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

from ablations.records.schema import FIELDS, NONE, RUNNER, SCHEMA_VERSION, validate

ROOT = Path(__file__).resolve().parents[1]


def synthetic_record(run_id="r", status="ok", **fields):
    """A record that validates (records/schema.py): `fields`, and every other field it must
    hold set to None where it may be None, else to its first type's empty value (0, "", [],
    {}); schema SCHEMA_VERSION, error None, or "ValueError: boom" for status "error" (with no
    trainer field). The optional fields only where given."""
    error = status == "error"
    defaults = {"schema": SCHEMA_VERSION, "error": "ValueError: boom" if error else None}
    record = {
        name: defaults.get(name, None if NONE in f.types else f.types[0]())
        for name, f in FIELDS.items()
        if not f.optional and (f.who == RUNNER or not error) and name != "status"
    }
    return validate({**record, "run_id": run_id, "status": status, **fields})


TIMING_KEYS = {"finished_at", "environment", "code_version", "seconds_to_target"}


def timeless(record):
    """A record without the fields that measure time or the session (they differ run to run)."""
    out = {
        k: v for k, v in record.items() if not k.endswith(("_s", "_mb")) and k not in TIMING_KEYS
    }
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
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # without PYTHONPATH: a checkout on it (its scratchbench.egg-info) would look installed
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert install.returncode == 0, install.stderr
    assert (venv / "bin" / "scratchbench").is_file(), install.stdout
    return venv / "bin", env


def run_all_process(*args, cwd, data_dir, **env):
    """`run_all.py args` in a fresh interpreter in `cwd`, as a subprocess.CompletedProcess
    (text, 300 s timeout): this checkout on PYTHONPATH (so a plugin or study in `cwd` imports
    it), datasets from `data_dir` ($SCRATCHBENCH_DATA_DIR), the variables `env` added."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run_all.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SCRATCHBENCH_DATA_DIR": str(data_dir), **env},
    )


def start_run_all(*args, cwd=ROOT):
    """`run_all.py args` of this checkout started in `cwd` as a subprocess.Popen (text pipes), in
    its own process group (a kill takes its workers too) and with Ctrl-C answered
    (ctrl_c_answered)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "run_all.py"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ctrl_c_answered,
    )


def main_in_process(argv, capfd):
    """`run_all.py argv` run in this process, as a subprocess.CompletedProcess (returncode,
    stdout, stderr): what a subprocess shows for a command that trains nothing, without a fresh
    interpreter's 3 s of imports (a parser error's or --help's SystemExit gives its code). capfd
    captures file descriptors 1 and 2 themselves, so a line written around sys.stdout or
    sys.stderr (a handler bound at import, a C library) is seen too. Only for commands that load
    no plugin and no study but this checkout's: a plugin would stay registered in this process."""
    import run_all

    capfd.readouterr()  # what came before is not this command's
    try:
        code = run_all.main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)
