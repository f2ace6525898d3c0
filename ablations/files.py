"""Atomic file writes, shared by every room: the data's cache and the records. Each writes a
temp file in the target's folder (named with the writer's pid), fsyncs it and renames it over
the target, so a reader, or a writer killed mid-write, sees the whole file or none."""

import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _replace_atomic(path, mode, write):
    """An OSError names `path` where the call that failed named no file (a write or fsync on a
    full disk: ENOSPC), so the error the user reads says where."""
    path = Path(path)
    try:
        with tempfile.NamedTemporaryFile(
            mode,
            dir=path.parent,
            prefix=f".{path.name}.{os.getpid()}.",
            suffix=".tmp",
            delete=False,
        ) as f:
            try:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            except BaseException:
                f.close()
                os.unlink(f.name)
                raise
        os.replace(f.name, path)
    except OSError as err:
        if err.filename is None:
            err.filename = str(path)
        raise


def json_text(obj, sort_keys=True):
    """`obj` as the indented JSON text these files hold (NaN refused: a record holds null)."""
    return json.dumps(obj, indent=1, sort_keys=sort_keys, allow_nan=False)


def write_json_atomic(path, obj, sort_keys=True):
    """`obj` as json_text."""
    _replace_atomic(path, "w", lambda f: f.write(json_text(obj, sort_keys)))


def save_npy_atomic(path, array):
    """`array` as a .npy file (no pickles)."""
    _replace_atomic(path, "wb", lambda f: np.save(f, array, allow_pickle=False))
