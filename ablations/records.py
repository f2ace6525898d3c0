"""Run records on disk: one JSON file per run under results/<grid>/, written atomically.

A record is written to a temp file in the same folder and renamed over its final name, so a
reader (or a runner killed mid-write) sees either the whole record or none. Unreadable records
are set aside as `<name>.corrupt` and their runs trained again.
"""
import json
import os
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
GRID_FILE = "grid.json"
REQUIRED = {"schema", "run_id", "config", "status"}


def write_json_atomic(path, obj):
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                     delete=False) as f:
        try:
            json.dump(obj, f, indent=1, sort_keys=True, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            f.close()
            os.unlink(f.name)
            raise
    os.replace(f.name, path)


def record_path(folder, run_id):
    return Path(folder) / f"{run_id}.json"


def read_records(folder, log=print):
    """{run_id: record} for every valid record in `folder`; corrupt ones are renamed aside."""
    records = {}
    for path in sorted(Path(folder).glob("*.json")):
        if path.name == GRID_FILE:
            continue
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or not REQUIRED <= set(record) \
                    or record["run_id"] != path.stem:
                raise ValueError("missing fields or a run_id that does not match its file name")
        except (ValueError, UnicodeDecodeError) as err:
            aside = path.with_suffix(".json.corrupt")
            os.replace(path, aside)
            log(f"corrupt record {path} set aside as {aside.name} ({err}); its run will train again")
            continue
        records[record["run_id"]] = record
    return records
