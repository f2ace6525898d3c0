"""Shared by the runner tests."""
import signal

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
