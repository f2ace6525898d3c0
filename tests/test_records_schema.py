"""The record schema round-trips: every writer's record validates against records/schema.py,
every committed record does, a broken one fails naming its field, and every reader's columns
come from the schema."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import synthetic_record

from ablations.analysis import diagnostics
from ablations.analysis.report import frame
from ablations.analysis.report.sections import describe_sklearn
from ablations.grid.config import resolve
from ablations.grid.expand import expand_grid
from ablations.records import schema
from ablations.records.schema import (
    BUDGET,
    DIAGNOSTICS,
    FIELDS,
    REPORT,
    RecordError,
    columns,
    problems,
    trainer_result,
    validate,
)
from ablations.records.store import read_records
from ablations.run import budget
from ablations.run.cluster import failed_record
from ablations.run.runner import LokyBackend, run_grid
from ablations.train.trainers import sklearn_alpha, sklearn_arguments

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    {"label": "ok", "optimizer": "sgd", "lr": 0.1},
    {"label": "diverged", "optimizer": "sgd", "lr": 1e300, "activation": "tanh"},
    {"label": "sklearn", "trainer": "sklearn_mlp", "optimizer": "adam", "lr": 3e-3, "l2": 1e-4},
    {"label": "error", "trainer": "sklearn_mlp", "optimizer": "adam", "activation": "gelu"},
]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """{case: record} as run_grid wrote them: nn_core ok and diverged, sklearn_mlp ok, and an
    error (an activation scikit-learn lacks), on digits."""
    root = tmp_path_factory.mktemp("schema")
    (root / "data").mkdir()
    blocks = [
        {
            "base": {"dataset": "digits", "hidden": [16], "epochs": 3, "batch_size": 32},
            "axes": {"case": CASES, "seed": [0]},
        }
    ]
    runs = expand_grid("schema", blocks)
    run_grid(
        "schema",
        runs,
        root / "results",
        root / "data",
        backend=LokyBackend(1, root / "data"),
        log=lambda line: None,
    )
    return {
        r["labels"]["case"]: r
        for r in read_records(root / "results" / "schema", log=print).values()
    }, runs


def test_every_writer_s_record_validates(written):
    records, runs = written
    assert {case: r["status"] for case, r in records.items()} == {
        "ok": "ok",
        "diverged": "diverged",
        "sklearn": "ok",
        "error": "error",
    }
    for record in records.values():
        assert problems(record) == [], record["labels"]
    assert "train_acc" in records["ok"] and "train_acc" not in records["sklearn"]
    assert "test_confusion" not in records["diverged"]
    assert set(records["error"]) == {n for n, f in FIELDS.items() if f.who == schema.RUNNER} | {
        "status"
    }
    # a run whose worker died: the cluster's record, then the fields run_grid adds
    lost = failed_record(runs[0], MemoryError("worker died"))
    extra = {k: records["ok"][k] for k in ("environment", "code_version", "grid", "finished_at")}
    assert problems({**lost, **extra}) == []


def test_a_trainer_s_result_is_checked_and_ordered(written):
    records, _ = written
    part = {k: v for k, v in records["ok"].items() if k in schema.TRAINER_FIELDS}
    assert list(trainer_result(**dict(reversed(part.items())))) == [n for n in FIELDS if n in part]
    with pytest.raises(RecordError, match="'n_params' is missing"):
        trainer_result(**{k: v for k, v in part.items() if k != "n_params"})
    with pytest.raises(RecordError, match="unknown field 'wall_time_s'"):
        trainer_result(**part, wall_time_s=1.0)
    with pytest.raises(RecordError, match="'status' is 'error'"):
        trainer_result(**{**part, "status": "error"})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("test_acc"), "record r: field 'test_acc' is missing"),
        (lambda r: r.pop("wall_time_s"), "record r: field 'wall_time_s' is missing"),
        (lambda r: r.update(epochs_run=3.0), "record r: field 'epochs_run' is float, expected int"),
        (lambda r: r.update(epochs_run=True), "record r: field 'epochs_run' is bool, expected int"),
        (
            lambda r: r.update(test_acc="0.9"),
            "record r: field 'test_acc' is str, expected float or None",
        ),
        (lambda r: r.update(status="done"), "record r: field 'status' is 'done', expected one of"),
        (
            lambda r: r.update(error="boom"),
            "record r: field 'error' must be a message exactly when",
        ),
        (lambda r: r.update(test_accuracy=0.9), "record r: unknown field 'test_accuracy'"),
    ],
)
def test_a_broken_record_fails_naming_its_field(change, message):
    record = synthetic_record("r", test_acc=0.9)
    change(record)
    with pytest.raises(RecordError) as err:
        validate(record)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_an_error_record_holds_no_trainer_field():
    record = synthetic_record("r", "error")
    assert validate(record) is record
    with pytest.raises(RecordError, match="'test_acc' is the trainer's"):
        validate({**record, "test_acc": None})


def test_every_committed_record_validates():
    paths = [
        p
        for p in sorted((ROOT / "results").glob("*/*.json"))
        if p.name not in ("grid.json", "tuning.json")
    ]
    assert len(paths) > 1000
    broken = {p.relative_to(ROOT).as_posix(): problems(json.loads(p.read_text())) for p in paths}
    assert {path: found for path, found in broken.items() if found} == {}


def test_the_report_and_the_diagnostics_take_their_columns_from_the_schema():
    assert frame.RECORD_FIELDS == list(columns(REPORT))
    assert frame.NUMERIC == [n for n in columns(REPORT) if FIELDS[n].numeric]
    assert diagnostics.RECORD_COLUMNS == columns(DIAGNOSTICS)
    # a field added to the schema for those readers becomes their column: a fresh interpreter
    added = subprocess.run(
        [
            sys.executable,
            "-c",
            """if True:
        from ablations.records import schema
        schema.FIELDS["test_f1"] = schema.Field("test_f1", (float,), schema.TRAINER, "a new one",
                                                readers=frozenset({"report", "diagnostics"}))
        from ablations.analysis import diagnostics
        from ablations.analysis.report import frame
        print("test_f1" in frame.NUMERIC, "test_f1" in diagnostics.RECORD_COLUMNS)""",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert added == ["True", "True"]


def test_the_budget_reads_only_the_schema_s_budget_columns(monkeypatch):
    read = set()

    class Watched(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

    config = resolve({"dataset": "mnist", "hidden": [256, 128], "epochs": 6})
    records = [
        Watched(
            synthetic_record(
                config=config, train_time_s=6.0, eval_time_s=0.6, wall_time_s=7.0, epochs_run=6
            )
        )
    ]
    assert budget.measured_rates(records).n_records == 1
    assert read == set(columns(BUDGET))
    monkeypatch.setattr(
        budget, "columns", lambda reader: tuple(n for n in columns(reader) if n != "wall_time_s")
    )
    with pytest.raises(KeyError, match="wall_time_s"):  # a field the schema does not give it
        budget.measured_rates(records)


def test_describe_sklearn_prints_the_trainer_s_own_call():
    config = resolve(
        {
            "trainer": "sklearn_mlp",
            "dataset": "digits",
            "optimizer": "adam",
            "l2": 1e-4,
            "batch_size": 128,
        }
    )
    (call,) = describe_sklearn([config, {**config, "seed": 1}])
    assert f"alpha={sklearn_alpha(1e-4, 128)!r}" in call and "alpha=0.0001," not in call
    arguments = sklearn_arguments(config)
    assert all(f"{k}={v!r}" in call for k, v in arguments.items() if k != "random_state")
    assert sklearn_arguments(config, n_train=100)["alpha"] == sklearn_alpha(1e-4, 100)
    assert describe_sklearn([{**config, "activation": "gelu"}]) == []  # its runs are errors
