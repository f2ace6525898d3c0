"""`scratchbench export mlflow`: the smoke grid's records read back from a temporary MLflow store
with MlflowClient (one run per record; params, final metrics and curves equal the records);
exporting again adds nothing; a new record adds a run, a changed one replaces its run; without
the extra, or with a bad grid, one line and exit 2, nothing written."""

import json
import shutil
import sys

import pytest

from ablations import cli
from ablations.grid.config import SCHEMA
from ablations.grid.examples import GRIDS
from ablations.grid.expand import expand_grid
from ablations.records.store import read_records
from ablations.run.runner import run_grid


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """The smoke grid trained once (8 runs on digits, one worker)."""
    root = tmp_path_factory.mktemp("smoke")
    run_grid(
        "smoke",
        expand_grid("smoke", GRIDS["smoke"]),
        root / "results",
        root / "data",
        jobs=1,
        log=lambda line: None,
    )
    return root / "results"


@pytest.fixture(autouse=True)
def file_store_opt_in_undone(monkeypatch):
    """The exporter opts into MLflow's file store through the environment; undo it after."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)


def export(results, store, capsys, grid="smoke"):
    code = cli.main(
        [
            "export",
            "mlflow",
            "--grid",
            grid,
            "--results-dir",
            str(results),
            "--tracking-uri",
            store.as_uri(),
        ]
    )
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def runs_by_record(store, grid="smoke"):
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.get_experiment_by_name(grid)
    runs = client.search_runs([experiment.experiment_id], run_view_type=ViewType.ACTIVE_ONLY)
    by_record = {run.data.tags["scratchbench.run_id"]: run for run in runs}
    assert len(by_record) == len(runs)  # one run per record, none twice
    return client, by_record


def non_default_settings(config):
    """The record's settings that differ from their defaults, a dict setting key by key."""
    found = {}
    for key, value in config.items():
        if value != SCHEMA[key].default:
            found.update(
                {f"{key}.{k}": v for k, v in value.items()}
                if isinstance(value, dict)
                else {key: value}
            )
    return found


def test_smoke_round_trip_then_a_second_export_adds_nothing(smoke_results, tmp_path, capsys):
    records = read_records(smoke_results / "smoke", set_aside=False)
    store = tmp_path / "mlruns"
    code, out, err = export(smoke_results, store, capsys)
    assert code == 0 and out.endswith(": 8 added, 0 updated, 0 unchanged"), (out, err)
    client, runs = runs_by_record(store)
    assert set(runs) == set(records) and len(records) == 8
    for run_id, record in records.items():
        run = runs[run_id]
        assert run.info.status == "FINISHED"
        expected = non_default_settings(record["config"])
        assert set(run.data.params) == set(expected) and {"lr", "hidden", "epochs"} <= set(expected)
        assert all(
            json.loads(run.data.params[k]) == v
            if not isinstance(v, str)
            else run.data.params[k] == v
            for k, v in expected.items()
        )
        tags = run.data.tags
        assert (
            tags["scratchbench.code_version"],
            tags["scratchbench.dataset"],
            tags["scratchbench.status"],
            tags["axis.optimizer"],
        ) == (record["code_version"], "digits", record["status"], record["labels"]["optimizer"])
        for name in ("test_acc", "final_val_acc", "best_val_acc", "epochs_run", "n_params"):
            assert run.data.metrics[name] == record[name]
        curves = [k for k, v in record["history"].items() if isinstance(v, list)]
        assert {"val_acc", "train_loss", "val_loss"} <= set(curves)
        for curve in curves:
            history = client.get_metric_history(run.info.run_id, f"history.{curve}")
            assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(
                range(1, record["epochs_run"] + 1)
            )
            assert [m.value for m in sorted(history, key=lambda m: m.step)] == record["history"][
                curve
            ]
    mlflow_ids = {run.info.run_id for run in runs.values()}

    code, out, _ = export(smoke_results, store, capsys)
    assert code == 0 and out.endswith(": 0 added, 0 updated, 8 unchanged")
    assert {run.info.run_id for run in runs_by_record(store)[1].values()} == mlflow_ids


def test_a_new_record_adds_a_run_and_a_changed_one_replaces_its_run(
    smoke_results, tmp_path, capsys
):
    results, store = tmp_path / "results", tmp_path / "mlruns"
    shutil.copytree(smoke_results, results)
    new, changed = sorted((results / "smoke").glob("[0-9a-f]*.json"))[:2]
    held_back = new.read_text()
    new.unlink()
    assert export(results, store, capsys)[0] == 0
    assert len(runs_by_record(store)[1]) == 7

    new.write_text(held_back)
    record = json.loads(changed.read_text())  # as if retrained: other numbers, same run id
    record["test_acc"], record["history"]["val_acc"][-1] = 0.5, 0.25
    changed.write_text(json.dumps(record))
    old = runs_by_record(store)[1][record["run_id"]].info.run_id
    code, out, _ = export(results, store, capsys)
    assert code == 0 and out.endswith(": 1 added, 1 updated, 6 unchanged")
    client, runs = runs_by_record(store)
    assert len(runs) == 8 and runs[new.stem]
    replaced = runs[record["run_id"]]
    assert replaced.info.run_id != old and client.get_run(old).info.lifecycle_stage == "deleted"
    assert replaced.data.metrics["test_acc"] == 0.5
    curve = client.get_metric_history(replaced.info.run_id, "history.val_acc")
    assert [m.value for m in sorted(curve, key=lambda m: m.step)] == record["history"]["val_acc"]
    assert export(results, store, capsys)[1].endswith(": 0 added, 0 updated, 8 unchanged")


def test_without_the_extra_one_line_names_it_and_exit_2(
    smoke_results, tmp_path, capsys, monkeypatch
):
    for name in [n for n in sys.modules if n == "mlflow" or n.startswith("mlflow.")] + ["mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import mlflow` raises ImportError
    code, out, err = export(smoke_results, tmp_path / "mlruns", capsys)
    assert code == 2 and not out and len(err.splitlines()) == 1
    assert "pip install scratchbench[mlflow]" in err
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    "grid, message",
    [
        ("smok", "unknown grid 'smok'; did you mean 'smoke'?"),
        ("quick", "grid 'quick' has no records under"),
    ],
)
def test_a_bad_grid_is_one_line_exit_2_and_nothing_written(
    grid, message, smoke_results, tmp_path, capsys
):
    code, out, err = export(smoke_results, tmp_path / "mlruns", capsys, grid=grid)
    assert code == 2 and not out and len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "mlruns").exists()
    assert not (smoke_results / "quick").exists()
