"""Run records on disk: one JSON file per run under results/<grid>/, written atomically, and
per-run claims so that concurrent runners never train a run twice.

A record is written to a temp file in the same folder (named with the writer's pid) and renamed
over its final name, so a reader, or a runner killed mid-write, sees the whole record or none.
A claim is an exclusive `flock` on `<run_id>.lock`, held while the run trains: the kernel drops
it when its runner dies, so a run in flight in a killed runner is free to be claimed again.
"""

import fcntl
import json
import os
from pathlib import Path

from ablations import files
from .legacy import upgrade_config
from .schema import IDENTITY, SCHEMA_VERSION, STATUSES, problems

ID_SCHEMA = 2  # the first schema whose run ids are today's (what migrate_records renames to)
GRID_FILE = "grid.json"
TUNING_FILE = "tuning.json"  # written by ablations/tuning.py beside the records
SEQUENTIAL_FILE = "sequential.json"  # a sequential grid's look log (ablations/waves.py)
SIDE_FILES = {GRID_FILE, TUNING_FILE, SEQUENTIAL_FILE}


def sorts_keys(path):
    """Whether the file at `path` sorts its keys: grid.json keeps the grid's axis order (the
    report's factor order), every other file sorts them."""
    return Path(path).name != GRID_FILE


def json_text(path, obj):
    """The text write_json_atomic(path, obj) writes."""
    return files.json_text(obj, sorts_keys(path))


def write_json_atomic(path, obj):
    files.write_json_atomic(path, obj, sorts_keys(path))


def is_finished(record):
    """Whether `record` is a result of today's code: not an error (errors are retried) and of the
    current schema. A record of an older schema stays readable by the report, but it never counts
    as a result of the current code: its run trains again (and its record is replaced)."""
    return record.get("status") != "error" and record.get("schema") == SCHEMA_VERSION


def record_path(folder, run_id):
    return Path(folder) / f"{run_id}.json"


def read_records(folder, log=print, set_aside=True, move_newer=None):
    """{run_id: record} for every valid record in `folder` (see `record_problem`). Invalid ones
    are reported through `log` and, with `set_aside`, renamed to `<name>.corrupt` so that their
    runs train again. Records of a newer schema than this code's, which it must neither read nor
    overwrite, are left out; with `move_newer` (default: `set_aside`) renamed aside too
    (`set_aside_newer`)."""
    move_newer = set_aside if move_newer is None else move_newer
    records = {}
    for path in sorted(Path(folder).glob("*.json")):
        if path.name in SIDE_FILES:
            continue
        record, problem = load_record(path)
        if problem is not None:
            if set_aside:
                os.replace(path, path.with_suffix(".json.corrupt"))
                log(
                    f"corrupt record {path.name} set aside as {path.stem}.json.corrupt "
                    f"({problem}); its run will train again"
                )
            else:
                log(f"corrupt record {path.name} skipped ({problem})")
            continue
        if is_newer(record):
            if move_newer:
                set_aside_newer(path, record, log)
            continue
        records[record["run_id"]] = record
    return records


def read_record(folder, run_id):
    """The valid record of `run_id` in `folder`, or None (absent or invalid); changes nothing."""
    record, problem = load_record(record_path(folder, run_id))
    return None if problem is not None else record


def load_record(path):
    """(record, None) for a valid record file, else (None or what was read, one line on what is
    wrong). A record of today's schema must pass schema.problems; an older one, which the report
    reads while its run trains again, needs its identity and outcome (IDENTITY, a known status);
    a newer one only its identity (this code does not know its fields)."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "absent"
    except (ValueError, UnicodeDecodeError) as err:
        return None, f"not JSON: {err}"
    if not isinstance(record, dict) or not set(IDENTITY) <= set(record):
        lacking = [f for f in IDENTITY if not isinstance(record, dict) or f not in record]
        return record, f"lacks {', '.join(lacking)}"
    if record["run_id"] != path.stem:
        return record, "a run_id that does not match its file name"
    if is_newer(record):
        return record, None
    if record["schema"] != SCHEMA_VERSION:
        return record, (
            None
            if record["status"] in STATUSES
            else f"field 'status' is {record['status']!r}, expected one of {STATUSES}"
        )
    found = problems(record)
    return record, (found[0] if found else None)


def is_newer(record):
    """Whether `record` was written by code of a newer record schema than this one's."""
    schema = record.get("schema")
    return isinstance(schema, int) and schema > SCHEMA_VERSION


def set_aside_newer(path, record, log):
    """Rename a newer-schema record to `<name>.schema<N>` (`.1`, `.2`, ... if taken): kept for the
    newer code, out of this code's way (its run trains again here)."""
    base = path.with_name(f"{path.name}.schema{record['schema']}")
    target = next(
        candidate
        for candidate in (base, *(base.with_name(f"{base.name}.{i}") for i in range(1, 10_000)))
        if not candidate.exists()
    )
    os.replace(path, target)
    log(
        f"warning: record {path.name} is of schema {record['schema']}, newer than this code's "
        f"{SCHEMA_VERSION}: kept as {target.name}, and its run trains again with this code"
    )


def migrate_records(folder, identify):
    """Rename schema-1 records, and records whose config holds a retired setting (config.
    LEGACY_SETTINGS, e.g. `standardize`), to today's id, `identify(upgraded config)`; return how
    many. Schema 1 hashed every setting, so adding a setting to SCHEMA renamed every run and
    retrained it; schema 2 hashes only settings that differ from their defaults. A renamed record
    says at most schema 2: its numbers come from the single-stream code, so it is not
    `is_finished`, but the report finds it under its run's current id."""
    moved = 0
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue  # read_records sets it aside
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("config"), dict)
            or is_newer(record)
        ):  # read_records sets a newer one aside, unchanged
            continue
        config = upgrade_config(record["config"])
        if record.get("schema") != 1 and config == record["config"]:
            continue
        record.update(
            schema=max(record.get("schema", 1), ID_SCHEMA), config=config, run_id=identify(config)
        )
        write_json_atomic(record_path(folder, record["run_id"]), record)
        if record["run_id"] != path.stem:
            path.unlink(missing_ok=True)
        moved += 1
    return moved


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(folder):
    """Delete temp files of writers that died and lock files nobody holds; return how many."""
    removed = 0
    for path in Path(folder).glob(".*.tmp"):
        pid = path.name.split(".")[-3]
        if pid.isdigit() and not _pid_alive(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    for path in Path(folder).glob("*.lock"):
        claim = try_claim(folder, path.stem)
        if claim is not None:
            release(folder, path.stem, claim)
            removed += 1
    return removed


def try_claim(folder, run_id, attempts=3):
    """An open file descriptor holding the run's exclusive lock, or None if another runner has it."""
    path = Path(folder) / f"{run_id}.lock"
    for _ in range(attempts):
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # the file may have been released (unlinked) between our open and our lock
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    return None


def release(folder, run_id, fd):
    """Remove the lock file and drop the lock. Safe: whoever locks the old file next finds the
    record (callers check for it after claiming) or finds the run free to train."""
    (Path(folder) / f"{run_id}.lock").unlink(missing_ok=True)
    os.close(fd)
