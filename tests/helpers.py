"""Shared by the runner tests."""

TIMING_KEYS = {"finished_at", "environment", "code_version", "seconds_to_target"}


def timeless(record):
    """A record without the fields that measure time or the session (they differ run to run)."""
    out = {k: v for k, v in record.items()
           if not k.endswith(("_s", "_mb")) and k not in TIMING_KEYS}
    out["history"] = {k: v for k, v in record["history"].items() if not k.endswith("_s")}
    return out
