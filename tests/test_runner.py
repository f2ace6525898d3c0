"""The runner: reproducible across workers and backends, resumable, failures isolated."""

import dataclasses
import hashlib
import json
import logging
import signal
import subprocess
from pathlib import Path

import joblib
import pytest


from helpers import timeless
from ablations.grid.config import run_id
from ablations.grid.expand import expand_grid
from ablations.records.store import ID_SCHEMA, SCHEMA_VERSION, migrate_records, read_records
from ablations.run.runner import LokyBackend, run_grid

TINY = {"dataset": "digits", "hidden": [16], "epochs": 3, "batch_size": 64}
GRID = [
    {
        "base": TINY,
        "axes": {
            "optimizer": [{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "adam", "lr": 3e-3}],
            "dropout": [0.0, 0.2],
            "seed": [0, 1],
        },
    }
]


def quiet(_line):
    pass


def records(folder):
    return {rid: timeless(r) for rid, r in read_records(folder, quiet).items()}


def test_jobs_1_and_jobs_2_give_identical_records(tmp_path, data_dir):
    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path / "one", data_dir, jobs=1, log=quiet)
    run_grid("tiny", runs, tmp_path / "two", data_dir, jobs=2, log=quiet)
    one, two = records(tmp_path / "one" / "tiny"), records(tmp_path / "two" / "tiny")
    assert len(one) == 8 and one == two
    assert all(r["status"] == "ok" for r in one.values())


def test_grid_is_saved_and_a_rerun_trains_nothing(tmp_path, data_dir):
    runs = expand_grid("tiny", GRID)
    first = run_grid("tiny", runs, tmp_path, data_dir, jobs=2, log=quiet)
    saved = json.loads((tmp_path / "tiny" / "grid.json").read_text())
    assert [r["run_id"] for r in saved] == [r.run_id for r in runs]
    assert all(list(r["labels"]) == ["optimizer", "dropout", "seed"] for r in saved)  # grid order
    record = json.loads(
        next(p for p in (tmp_path / "tiny").glob("*.json") if p.name != "grid.json").read_text()
    )
    assert list(record) == sorted(record)  # records stay sorted
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "tiny").glob("*.json")}
    again = run_grid("tiny", runs, tmp_path, data_dir, jobs=2, log=quiet)
    assert (first.trained, again.trained, again.skipped) == (8, 0, 8)
    after = {
        p.name: p.stat().st_mtime_ns
        for p in (tmp_path / "tiny").glob("*.json")
        if p.name != "grid.json"
    }
    assert all(before[name] == mtime for name, mtime in after.items())


def test_a_new_entry_trains_only_its_runs(tmp_path, data_dir):
    run_grid("tiny", expand_grid("tiny", GRID), tmp_path, data_dir, jobs=1, log=quiet)
    grown = [
        {
            **GRID[0],
            "axes": {
                **GRID[0]["axes"],
                "optimizer": [
                    *GRID[0]["axes"]["optimizer"],
                    {"label": "adam_1e-2", "optimizer": "adam", "lr": 1e-2},
                ],
            },
        }
    ]
    outcome = run_grid("tiny", expand_grid("tiny", grown), tmp_path, data_dir, jobs=1, log=quiet)
    assert (outcome.total, outcome.trained) == (12, 4)


def test_a_run_listed_twice_trains_once(tmp_path, data_dir):
    """A run two regimes share (a tuned setting equal to the default) is listed once per
    regime: selected twice, it trains once and no other runner is said to have claimed it."""
    runs = expand_grid("tiny", GRID)[:2]
    lines = []
    outcome = run_grid(
        "tiny", runs, tmp_path, data_dir, jobs=1, only=[*runs, runs[0]], log=lines.append
    )
    assert (outcome.total, outcome.trained, outcome.busy) == (2, 2, 0)
    assert not any("another runner" in line for line in lines)


def test_divergence_and_errors_are_recorded_and_the_grid_goes_on(tmp_path, data_dir):
    grid = [
        {
            "base": TINY,
            "axes": {
                "case": [
                    {"label": "fine", "optimizer": "adam", "lr": 3e-3},
                    {"label": "absurd_lr", "optimizer": "sgd", "lr": 1e30},
                    {"label": "raises", "trainer": "sklearn_mlp", "activation": "gelu"},
                ]
            },
        }
    ]
    outcome = run_grid("bad", expand_grid("bad", grid), tmp_path, data_dir, jobs=2, log=quiet)
    by_case = {r["labels"]["case"]: r for r in read_records(tmp_path / "bad", quiet).values()}
    assert outcome.counts == {"ok": 1, "diverged": 1, "error": 1}
    assert by_case["absurd_lr"]["status"] == "diverged" and by_case["absurd_lr"]["test_acc"] is None
    assert by_case["raises"]["status"] == "error"
    assert "sklearn_mlp supports activations" in by_case["raises"]["error"]
    assert by_case["fine"]["status"] == "ok"


def test_errored_runs_are_retried_on_the_next_run(tmp_path, data_dir):
    grid = [
        {"base": {**TINY, "trainer": "sklearn_mlp", "activation": "gelu"}, "axes": {"seed": [0]}}
    ]
    runs = expand_grid("err", grid)
    run_grid("err", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert run_grid("err", runs, tmp_path, data_dir, jobs=1, log=quiet).trained == 1


def test_dask_local_cluster_gives_the_same_records_as_loky(tmp_path, data_dir):
    pytest.importorskip("distributed")
    from ablations.run.cluster import connect

    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path / "loky", data_dir, jobs=2, log=quiet)
    backend = connect("local:2", data_dir)
    try:
        assert backend.threads() == 2
        filters = backend.client.run(  # by value: cluster.quiet_heartbeat_at_close's filter
            lambda: [type(f).__name__ for f in logging.getLogger("distributed.worker").filters]
        )
        assert list(filters.values()) == [["HeartbeatAtClose"]] * 2, filters
        run_grid("tiny", runs, tmp_path / "dask", data_dir, backend=backend, log=quiet)
    finally:
        backend.close()
    assert records(tmp_path / "loky" / "tiny") == records(tmp_path / "dask" / "tiny")


def test_loky_workers_leave_ctrl_c_to_the_parent():
    """Ctrl-C reaches the whole process group; a worker that took it would print a traceback."""
    with LokyBackend(2, None).parallel_config():
        handlers = joblib.Parallel()(
            joblib.delayed(signal.getsignal)(signal.SIGINT) for _ in range(4)
        )
    assert handlers == [signal.SIG_IGN] * 4


def test_schema_1_records_are_renamed_to_current_ids_then_retrained(tmp_path, data_dir):
    """Schema 1 named a run by the hash of all its settings; its records are adopted under
    today's ids (as schema 2: single-stream numbers), and then trained again under the current
    schema, each replacing its stale record."""
    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    folder = tmp_path / "tiny"
    trained = records(folder)
    for path in [p for p in folder.glob("*.json") if p.name != "grid.json"]:
        record = json.loads(path.read_text())
        canonical = json.dumps(record["config"], sort_keys=True, separators=(",", ":"))
        old_id = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        record.update(schema=1, run_id=old_id)
        (folder / f"{old_id}.json").write_text(json.dumps(record))
        path.unlink()
    assert not set(records(folder)) & set(trained)
    assert migrate_records(folder, run_id) == 8
    migrated = records(folder)
    assert migrated.keys() == trained.keys()
    assert all(r["schema"] == ID_SCHEMA < SCHEMA_VERSION for r in migrated.values())
    outcome = run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert outcome.trained == 8
    assert records(folder) == trained


def test_older_schema_records_are_read_but_never_count_as_results(tmp_path, data_dir):
    """A record made by the single-stream code (schema 2) under a run id of today is stale: the
    runner trains that run again and replaces it."""
    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    folder = tmp_path / "tiny"
    stale = runs[0].run_id
    path = folder / f"{stale}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "schema": 2, "test_acc": -1.0}))
    assert read_records(folder, quiet)[stale]["test_acc"] == -1.0  # still readable
    outcome = run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert outcome.trained == 1
    assert json.loads(path.read_text())["schema"] == SCHEMA_VERSION
    assert json.loads(path.read_text())["test_acc"] == record["test_acc"]


def test_a_newer_schema_record_is_kept_aside_never_overwritten(tmp_path, data_dir):
    """A record of newer code: this code cannot read it, so it is renamed out of the way with
    one warning, byte for byte, and its run trains again here."""
    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    folder = tmp_path / "tiny"
    newer = runs[0].run_id
    path = folder / f"{newer}.json"
    text = json.dumps(
        {**json.loads(path.read_text()), "schema": SCHEMA_VERSION + 1, "a_future_field": [1, 2]}
    )
    path.write_text(text)
    assert migrate_records(folder, run_id) == 0
    lines = []
    outcome = run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=lines.append)
    kept = folder / f"{newer}.json.schema{SCHEMA_VERSION + 1}"
    assert kept.read_text() == text
    warnings = [line for line in lines if line.startswith("warning: record")]
    assert warnings == [
        f"warning: record {newer}.json is of schema {SCHEMA_VERSION + 1}, newer "
        f"than this code's {SCHEMA_VERSION}: kept as {kept.name}, and its run "
        f"trains again with this code"
    ]
    assert outcome.trained == 1 and json.loads(path.read_text())["schema"] == SCHEMA_VERSION
    path.write_text(text)  # the same again: the first one kept is not overwritten either
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=quiet)
    assert kept.read_text() == text and (folder / f"{kept.name}.1").read_text() == text


def test_records_with_the_retired_standardize_setting_are_renamed_to_normalize(tmp_path, data_dir):
    """standardize=True became normalize="per_pixel": its records move to the new run id (still
    schema 2, so they train again under the current code) and keep their numbers for the report."""
    grid = [{"base": {**TINY, "normalize": "per_pixel"}, "axes": {"seed": [0]}}]
    runs = expand_grid("tiny", grid)
    folder = tmp_path / "tiny"
    folder.mkdir()
    config = {k: v for k, v in runs[0].config.items() if k != "normalize"}
    config["standardize"] = True
    old_id = run_id(config)
    (folder / f"{old_id}.json").write_text(
        json.dumps(
            {"schema": 2, "run_id": old_id, "config": config, "status": "ok", "test_acc": 0.5}
        )
    )
    assert migrate_records(folder, run_id) == 1
    moved = read_records(folder, quiet)
    assert list(moved) == [runs[0].run_id] and moved[runs[0].run_id]["test_acc"] == 0.5
    assert moved[runs[0].run_id]["schema"] == 2
    assert moved[runs[0].run_id]["config"]["normalize"] == "per_pixel"


def test_checkout_version_ignores_records_and_reports_but_not_code(tmp_path):
    from ablations.run.runner import checkout_version

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    (tmp_path / "results").mkdir()
    (tmp_path / "reports").mkdir()
    for name in ["code.py", "results/a.json", "reports/a.md"]:
        (tmp_path / name).write_text("1")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "x")
    (tmp_path / "results" / "a.json").rename(tmp_path / "results" / "b.json")  # a migration
    (tmp_path / "reports" / "a.md").write_text("2")
    assert not checkout_version(tmp_path).endswith("+dirty")
    (tmp_path / "code.py").write_text("2")
    assert checkout_version(tmp_path).endswith("+dirty")


def test_a_rerun_of_an_unchanged_plan_leaves_grid_json_as_it_was(tmp_path, data_dir):
    """The project's main command on a tree whose records are all there changes no file."""
    runs = expand_grid("tiny", GRID)
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, log=lambda *a: None)
    grid_file = tmp_path / "tiny" / "grid.json"
    before = grid_file.stat().st_mtime_ns
    lines = []
    run_grid("tiny", runs, tmp_path, data_dir, jobs=1, only=[], log=lines.append)
    assert grid_file.stat().st_mtime_ns == before
    assert lines[-1] == f"grid tiny: {len(runs)} runs, all finished; nothing to train"
    shuffled = [dataclasses.replace(r, labels=dict(reversed(list(r.labels.items())))) for r in runs]
    run_grid("tiny", shuffled, tmp_path, data_dir, jobs=1, log=lambda *a: None)
    assert list(json.loads(grid_file.read_text())[0]["labels"]) == list(
        reversed(list(runs[0].labels))
    )  # a new axis order is a changed plan: written


def test_in_this_checkout_the_code_version_is_its_commit_and_the_data_its_folder():
    """The modules sit two folders below the checkout's root (ablations/<room>/): records name
    the checkout's commit, and a checkout caches its data in its own data/."""
    from ablations.data.datasets import PROJECT_ROOT
    from ablations.run.runner import checkout_version, code_version

    root = Path(__file__).resolve().parents[1]
    assert PROJECT_ROOT == root
    assert code_version() == checkout_version(root) != "unknown"
