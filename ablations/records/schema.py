"""A run's record, defined once: every field with its type, who writes it and which readers take
it as a column; the schema version; the one check every record passes (`problems`, `validate`).

A record (results/<grid>/<run_id>.json, written by store.py with sorted keys) holds
- the runner's fields known before the run trains (schema, run_id, labels, config, error);
- what the trainer returns (`trainer_result`): status and the measurements; an error record,
  whose trainer never returned, holds none of them but its status "error";
- the runner's fields measured around the trainer (wall_time_s, worker_peak_rss_mb) and added
  as it writes the record (environment, code_version, grid, finished_at).
Readers take their columns from `columns(reader)`, in FIELDS' order (the report's CSV columns).
"""

import math
from dataclasses import dataclass

# 1 named runs by a hash of every setting; 2 leaves defaults out of it; 3 draws from independent
# seed streams (streams.py), so its numbers differ from a schema-2 record of the same run id.
SCHEMA_VERSION = 3
TRAINER, RUNNER = "trainer", "runner"
REPORT, DIAGNOSTICS, BUDGET = "report", "diagnostics", "budget"  # the readers of columns()
STATUSES = ("ok", "diverged", "error")
NONE = type(None)


@dataclass(frozen=True)
class Field:
    """One field: its JSON types (a float field takes an int too; no field takes a bool unless
    `bool` is among its types), who writes it, whether a record may lack it, and the readers
    that take it as a column."""

    name: str
    types: tuple
    who: str  # TRAINER or RUNNER
    help: str
    optional: bool = False
    readers: frozenset = frozenset()

    @property
    def numeric(self):
        return set(self.types) - {NONE} <= {int, float}

    def accepts(self, value):
        """Whether `value` is of this field's types; a float must be finite (JSON has no NaN)."""
        if isinstance(value, bool):
            return bool in self.types
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return isinstance(value, self.types) or (float in self.types and isinstance(value, int))


def _field(name, types, who, help, *readers, optional=False):
    types = types if isinstance(types, tuple) else (types,)
    return Field(name, types, who, help, optional, frozenset(readers))


FLOAT_OR_NONE, INT_OR_NONE = (float, NONE), (int, NONE)
# Ordered as the report's columns (its summary CSV); the trainer's and the runner's interleave.
FIELDS = {
    f.name: f
    for f in [
        _field("schema", int, RUNNER, "SCHEMA_VERSION of the code that wrote it (older: migrated)"),
        _field("run_id", str, RUNNER, "hash of the settings that differ from their defaults"),
        _field("labels", dict, RUNNER, "axis -> level label, from the grid's expansion"),
        _field("config", dict, RUNNER, "the resolved settings", BUDGET),
        _field(
            "test_acc",
            FLOAT_OR_NONE,
            TRAINER,
            "test accuracy; None if diverged",
            REPORT,
            DIAGNOSTICS,
        ),
        _field("test_loss", FLOAT_OR_NONE, TRAINER, "mean test loss; None if diverged", REPORT),
        _field(
            "final_val_acc",
            FLOAT_OR_NONE,
            TRAINER,
            "validation accuracy after the last epoch",
            REPORT,
            DIAGNOSTICS,
        ),
        _field(
            "best_val_acc",
            FLOAT_OR_NONE,
            TRAINER,
            "best validation accuracy of any epoch",
            REPORT,
            DIAGNOSTICS,
        ),
        _field(
            "target_val_acc", float, TRAINER, "the dataset's time-to-target validation accuracy"
        ),
        _field(
            "train_acc",
            float,
            TRAINER,
            "eval-mode accuracy on up to 10,000 training rows (nn_core, not diverged)",
            DIAGNOSTICS,
            optional=True,
        ),
        _field("train_eval_loss", float, TRAINER, "eval-mode loss on those rows", optional=True),
        _field(
            "train_time_s",
            float,
            TRAINER,
            "seconds in training steps, all epochs",
            REPORT,
            DIAGNOSTICS,
            BUDGET,
        ),
        _field(
            "eval_time_s",
            float,
            TRAINER,
            "seconds on validation passes, all epochs",
            REPORT,
            BUDGET,
        ),
        _field(
            "wall_time_s",
            float,
            RUNNER,
            "seconds of the whole run: load, train, test",
            REPORT,
            BUDGET,
        ),
        _field(
            "epochs_run",
            int,
            TRAINER,
            "epochs trained (fewer if stopped early or diverged)",
            REPORT,
            DIAGNOSTICS,
            BUDGET,
        ),
        _field(
            "epochs_to_target",
            INT_OR_NONE,
            TRAINER,
            "epochs until target_val_acc, or None",
            REPORT,
            DIAGNOSTICS,
        ),
        _field(
            "seconds_to_target",
            FLOAT_OR_NONE,
            TRAINER,
            "train seconds until target_val_acc, or None",
            REPORT,
            DIAGNOSTICS,
        ),
        _field(
            "status",
            str,
            TRAINER,
            f"one of {', '.join(STATUSES)} (the runner writes error)",
            REPORT,
            DIAGNOSTICS,
            BUDGET,
        ),
        _field("n_params", int, TRAINER, "trainable weights and biases", REPORT),
        _field(
            "error",
            (str, NONE),
            RUNNER,
            "'<Exception>: <message>' of an error record, else None",
            REPORT,
        ),
        _field(
            "error_frames",
            list,
            RUNNER,
            "an error record's last traceback frames, innermost "
            "last, each [file, line, function] ([] for a worker that died; absent in other "
            "records and in error records of earlier code)",
            optional=True,
        ),
        _field(
            "history", dict, TRAINER, "per-epoch curves and how training ended (nn_core History)"
        ),
        _field(
            "test_confusion",
            list,
            TRAINER,
            "confusion matrix, rows: true class (not diverged)",
            optional=True,
        ),
        _field(
            "test_misclassified",
            list,
            TRAINER,
            "the first 16 [index, true, predicted]",
            optional=True,
        ),
        _field(
            "worker_peak_rss_mb",
            float,
            RUNNER,
            "the worker's peak resident memory so far (absent where the worker died)",
            optional=True,
        ),
        _field("environment", dict, RUNNER, "Python, numpy, BLAS, CPU, cores, plugins"),
        _field("grid", str, RUNNER, "the grid it was trained for"),
        _field(
            "finished_at", str, RUNNER, "local time it was written, ISO 8601 to the second", REPORT
        ),
        _field("code_version", str, RUNNER, "git commit (+dirty) or package version", REPORT),
    ]
}
TRAINER_FIELDS = tuple(name for name, f in FIELDS.items() if f.who == TRAINER)
# What a file needs to be read as a record at all (else it is set aside as corrupt): its
# identity and outcome. A record lacking other fields is read, and `validate` names what it lacks.
IDENTITY = ("schema", "run_id", "config", "status")


class RecordError(ValueError):
    """A record that does not follow FIELDS; its message is one line naming the field."""


def columns(reader):
    """The names of the fields `reader` (REPORT, DIAGNOSTICS or BUDGET) reads, in FIELDS' order."""
    return tuple(name for name, f in FIELDS.items() if reader in f.readers)


def numeric(names):
    """Those of `names` whose fields hold numbers (or None)."""
    return tuple(name for name in names if FIELDS[name].numeric)


def problems(record, names=None):
    """What is wrong with `record` (a whole record, or with `names` the part of it those fields
    make up), one line per problem, each naming its field; [] if nothing."""
    if not isinstance(record, dict):
        return [f"a record is a JSON object, not {type(record).__name__}"]
    names = FIELDS if names is None else names
    error = record.get("status") == "error"
    found = [f"unknown field {key!r}" for key in record if key not in names]
    for name in names:
        field = FIELDS[name]
        if name not in record:
            if not (field.optional or (error and field.who == TRAINER)):
                found.append(f"field {name!r} is missing")
        elif error and field.who == TRAINER and name != "status":
            found.append(f"field {name!r} is the trainer's, and an error record has none")
        elif not field.accepts(record[name]):
            value = record[name]
            non_finite = isinstance(value, float) and not math.isfinite(value)
            expected = " or ".join("None" if t is NONE else t.__name__ for t in field.types)
            found.append(
                f"field {name!r} is {value if non_finite else type(value).__name__}, "
                f"expected {expected}" + (" (JSON has no NaN or infinity)" if non_finite else "")
            )
        elif not finite(record[name]):
            found.append(f"field {name!r} holds a non-finite number (JSON has none: null instead)")
    if "status" in names and record.get("status") not in STATUSES:
        found.append(f"field 'status' is {record.get('status')!r}, expected one of {STATUSES}")
    if "error" in names and "error" in record and (record["error"] is None) == error:
        found.append("field 'error' must be a message exactly when status is 'error'")
    if "error_frames" in names and "error_frames" in record and not error:
        found.append("field 'error_frames' belongs to an error record only")
    return found


def finite(value):
    """Whether no float anywhere in `value` (nested lists and dicts) is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(finite, value.values()))
    if isinstance(value, list):
        return all(map(finite, value))
    return True


def without_non_finite(curves):
    """(`curves` with each non-finite number of its lists replaced by None, whether any was):
    a history's NaN or infinite loss or metric, which JSON cannot hold."""
    clean, found = {}, False
    for key, value in curves.items():
        if isinstance(value, list):
            kept = [None if isinstance(v, float) and not math.isfinite(v) else v for v in value]
            found = found or kept != value
            value = kept
        clean[key] = value
    return clean, found


def validate(record):
    """`record`, unchanged; RecordError naming the first problem (see `problems`)."""
    found = problems(record)
    if found:
        where = record.get("run_id", "?") if isinstance(record, dict) else "?"
        raise RecordError(f"record {where}: {found[0]}")
    return record


def trainer_result(**values):
    """What a trainer returns: the TRAINER fields in `values` (all but the optional ones), checked,
    in FIELDS' order; RecordError naming the first problem. Its status is ok or diverged (a
    trainer that fails raises; the runner records the error). A non-finite number in the
    history's curves (a train or validation loss or metric) is written as None and makes the
    run diverged; one anywhere else (a test metric, a time) is a RecordError: the trainer's
    result is invalid, and the runner records the run as an error."""
    if isinstance(values.get("history"), dict):  # a non-finite train or val curve: diverged
        values["history"], diverged = without_non_finite(values["history"])
        if diverged and values.get("status") == "ok":
            values["status"] = "diverged"
    found = problems(values, TRAINER_FIELDS)
    if values.get("status") == "error":
        found.insert(0, "field 'status' is 'error': a trainer that fails raises instead")
    if found:
        raise RecordError(f"trainer result: {found[0]}")
    return {name: values[name] for name in TRAINER_FIELDS if name in values}
