"""Tuning in the grid language: expansion counts, selection on validation only, successive
halving, runs shared between tuning and final evaluation, and bad specs rejected in one line."""

import json
import math

import numpy as np
import pytest

from ablations.grid.config import GridError
from ablations.data.datasets import DigitsDataset
from ablations.records.store import SCHEMA_VERSION, TUNING_FILE, read_records, write_json_atomic
from ablations.run.runner import GridOutcome, run_grid
from ablations.run.tuning import plan_grid, run_tuned_grid

from helpers import synthetic_record

BASE = {"dataset": "digits", "hidden": [16], "epochs": 3, "batch_size": 64}
OPTIMIZERS = [
    {"optimizer": "sgd", "tune": {"lr": [0.03, 0.1, 0.3, 1.0]}},
    {"optimizer": "adam", "tune": {"lr": [1e-3, 3e-3, 1e-2]}},
]
REGULARIZATION = [{"label": "none"}, {"label": "l2", "l2": 1e-4}]


def block(**tune):
    return {
        "base": BASE,
        "axes": {
            "optimizer": OPTIMIZERS,
            "activation": ["relu", "tanh"],
            "regularization": REGULARIZATION,
            "seed": [0, 1, 2],
        },
        "tune": {"seeds": [0, 7], **tune},
    }


def val_acc(config):
    """A made-up validation accuracy peaked at lr 0.1 (sgd) / 3e-3 (adam), better for tanh,
    and for longer training."""
    best = {"sgd": 0.1, "adam": 3e-3}[config["optimizer"]]
    return (
        0.9
        - 0.05 * abs(math.log10(config["lr"] / best))
        + 0.01 * (config["activation"] == "tanh")
        + 0.001 * config["epochs"]
        + 0.0001 * config["seed"]
    )


def fake_records(runs, poison=False):
    """A finished record per run; `poison` gives test metrics that would pick other winners."""
    rng = np.random.default_rng(0)
    return {
        r.run_id: synthetic_record(
            r.run_id,
            config=r.config,
            final_val_acc=val_acc(r.config),
            best_val_acc=val_acc(r.config) + 0.002,
            test_acc=float(rng.random()) if poison else val_acc(r.config),
            test_loss=float(rng.random()) if poison else 0.3,
            test_confusion=[[int(rng.integers(9))]] if poison else [[1]],
        )
        for r in runs
    }


def settle(blocks, poison=False):
    """Plan, answer every known run with a fake record, until the plan stops growing."""
    records = {}
    while True:
        plan = plan_grid("g", blocks, records)
        missing = [r for r in plan.all_runs() if r.run_id not in records]
        if not missing:
            return plan, records
        records.update(fake_records(missing, poison))


def test_expansion_counts_tuning_runs_per_cell_and_leaves_finals_pending():
    plan = plan_grid("g", [block()])
    cells = 2 * 2 * 2  # optimizer x activation x regularization (per defaults to every axis)
    assert len(plan.cells) == cells and plan.runs == []
    assert len(plan.tuning) == 2 * 2 * (4 + 3) * 2  # regs x acts x candidates x tuning seeds
    assert plan.pending_finals == cells * 3


def test_per_shares_a_selection_across_the_other_axes():
    plan = plan_grid("g", [block(per=["optimizer", "activation"])])
    assert len(plan.cells) == 4 and len(plan.tuning) == 2 * (4 + 3) * 2
    assert {r.labels["regularization"] for r in plan.tuning} == {"none"}  # first level
    plan, _ = settle([block(per=["optimizer", "activation"])])
    assert len(plan.runs) == 2 * 2 * 2 * 3 and plan.pending_finals == 0
    by_cell = {
        (r.labels["optimizer"], r.labels["activation"], r.labels["regularization"]): r.config["lr"]
        for r in plan.runs
    }
    assert by_cell[("sgd", "relu", "none")] == by_cell[("sgd", "relu", "l2")] == 0.1


@pytest.mark.parametrize("select", ["final_val_acc", "best_val_acc"])
def test_the_winner_of_each_cell_trains_on_the_final_seeds(select):
    plan, records = settle([block(select=select)])
    assert plan.pending_finals == 0 and len(plan.runs) == 8 * 3
    for run in plan.runs:
        assert run.config["lr"] == {"sgd": 0.1, "adam": 3e-3}[run.config["optimizer"]]
        assert "trial" not in run.labels and run.config["epochs"] == 3
    cell = plan.cells[0]
    assert cell["rule"] == select and cell["selected"] == {"lr": 0.1}
    expected = np.mean(
        [
            records[rid][select]
            for rid in next(
                t["run_ids"] for t in cell["rungs"][-1]["trials"] if t["settings"] == {"lr": 0.1}
            )
        ]
    )
    assert cell["selected_val"] == pytest.approx(expected)


def test_selection_never_reads_the_test_set():
    clean, _ = settle([block(halving={"epochs": [1, 3], "keep": 0.5})])
    poisoned, records = settle([block(halving={"epochs": [1, 3], "keep": 0.5})], poison=True)
    assert records  # the poisoned test metrics are there, and change nothing
    assert [r.config for r in poisoned.runs] == [r.config for r in clean.runs]
    assert poisoned.cells == clean.cells


def test_successive_halving_keeps_the_best_candidates_per_rung():
    blocks = [block(per=["optimizer"], halving={"epochs": [1, 3], "keep": 0.5})]
    plan = plan_grid("g", blocks)
    assert {r.config["epochs"] for r in plan.tuning} == {1}
    assert len(plan.tuning) == (4 + 3) * 2 and plan.pending_finals == 2 * 2 * 2 * 3
    records = fake_records(plan.tuning)
    plan = plan_grid("g", blocks, records)
    rung1 = [r for r in plan.tuning if r.config["epochs"] == 3]
    kept = {(r.config["optimizer"], r.config["lr"]) for r in rung1}
    # ceil(0.5 * 4) = 2 of sgd's, ceil(0.5 * 3) = 2 of adam's: the two closest to each peak
    assert kept == {("sgd", 0.1), ("sgd", 0.3), ("adam", 3e-3), ("adam", 1e-3)}
    assert len(rung1) == 4 * 2 and plan.runs == []
    plan = plan_grid("g", blocks, {**records, **fake_records(rung1)})
    assert plan.pending_finals == 0 and len(plan.runs) == 2 * 2 * 2 * 3
    assert all(cell["rungs"][1]["epochs"] == 3 for cell in plan.cells)


def test_a_diverged_trial_scores_zero():
    plan = plan_grid("g", [block(per=["optimizer"])])
    records = fake_records(plan.tuning)
    for run in plan.tuning:
        if run.config["optimizer"] == "sgd" and run.config["lr"] == 0.1 and run.config["seed"]:
            records[run.run_id].update(status="diverged", final_val_acc=None)
    sgd = plan_grid("g", [block(per=["optimizer"])], records).cells[0]
    trial = next(t for t in sgd["rungs"][0]["trials"] if t["settings"] == {"lr": 0.1})
    assert trial["diverged"] == 1 and sgd["selected"] == {"lr": 0.3}


def test_records_of_an_older_schema_are_not_results():
    plan = plan_grid("g", [block()])
    stale = {
        rid: {**r, "schema": SCHEMA_VERSION - 1} for rid, r in fake_records(plan.tuning).items()
    }
    assert plan_grid("g", [block()], stale).pending_finals == plan.pending_finals


def test_a_tuning_run_on_a_final_seed_is_the_final_run():
    plan, _ = settle([block(seeds=[0])])
    finals = {r.run_id for r in plan.runs}
    shared = finals & {r.run_id for r in plan.tuning}
    assert len(shared) == 8  # each cell's winner at seed 0
    assert len(plan.all_runs()) == len(plan.tuning) + len(plan.runs) - 8


BAD_SPECS = [
    ({"space": {"lr": []}}, "'lr' must be a non-empty list"),
    ({"space": {"lr": [0.1, -0.1]}}, "lr: must be > 0"),
    ({"space": {"lr": [0.0]}}, "lr: must be > 0"),
    ({"space": {"activation": ["relu"]}}, "'activation' is an axis of the block"),
    ({"space": {"epochs": [3]}}, "'epochs' is fixed by the block's base"),
    ({"space": {"l2": [1e-4]}}, "'l2' is set by level 'l2' of axis 'regularization'"),
    ({"budget": 3}, "unknown tune key 'budget'"),
    ({"seeds": []}, "seeds must be a non-empty list"),
    ({"select": "test_acc"}, "unknown selection rule 'test_acc'"),
    ({"per": ["colour"]}, "per must list axes of the block"),
    ({"per": ["seed"]}, "per must list axes of the block"),
    ({"per": ["activation"]}, "axis 'optimizer' is not in tune.per"),
    ({"halving": {"epochs": [3], "keep": 0.5}}, "halving epochs must be >= 2 increasing"),
    ({"halving": {"epochs": [1, 3], "keep": 1.0}}, "halving keep must be in (0, 1)"),
    ({"space": {"lrr": [0.1]}}, "unknown key 'lrr'; did you mean 'lr'"),
    ({"space": {"dropout": [0.1, 0.1]}}, "'dropout' lists a candidate twice"),
    ({"space": {"init_seed": [1, 2]}}, "'init_seed' is a random seed"),
]


@pytest.mark.parametrize("spec,message", BAD_SPECS)
def test_bad_tune_specs_give_one_line(spec, message):
    with pytest.raises(GridError) as info:
        plan_grid("g", [block(**spec)])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_tuned_grid_trains_in_phases_and_writes_what_it_selected(tmp_path, data_dir):
    blocks = [block(per=["optimizer"], seeds=[0], halving={"epochs": [1, 3], "keep": 0.5})]

    def train(finals, only):
        return run_grid("g", finals, tmp_path, data_dir, jobs=1, only=only, log=lambda _: None)

    outcome = run_tuned_grid("g", blocks, tmp_path, train, log=lambda _: None)
    plan = plan_grid("g", blocks, read_records(tmp_path / "g", set_aside=False))
    assert plan.pending_finals == 0 and len(plan.runs) == 2 * 2 * 2 * 3
    assert outcome.trained == len(plan.all_runs())  # shared runs trained once
    saved = json.loads((tmp_path / "g" / TUNING_FILE).read_text())
    assert saved["tuning_run_ids"] == [r.run_id for r in plan.tuning]
    assert [c["selected"] for c in saved["cells"]] == [c["selected"] for c in plan.cells]
    assert all(c["rule"] == "final_val_acc" and c["selected_val"] > 0.5 for c in saved["cells"])
    grid = json.loads((tmp_path / "g" / "grid.json").read_text())
    assert [g["run_id"] for g in grid] == [r.run_id for r in plan.runs]  # the finals only
    again = run_tuned_grid("g", blocks, tmp_path, train, log=lambda _: None)
    assert again.trained == 0


def test_a_candidate_added_later_leaves_grid_json_listing_every_final_run(tmp_path):
    """Extending a search range whose new candidate loses trains only tuning runs; the last
    phase then finds nothing to train, and grid.json must still list every final run (it once
    kept the phase's partial list, with the extended cells' finals missing)."""
    folder = tmp_path / "g"

    def train(finals, todo):  # the runner's contract, with fake records instead of training
        folder.mkdir(exist_ok=True)
        for run_id, record in fake_records(todo).items():
            write_json_atomic(folder / f"{run_id}.json", record)
        write_json_atomic(
            folder / "grid.json",
            [{"run_id": r.run_id, "labels": r.labels, "config": r.config} for r in finals],
        )
        return GridOutcome(len(todo), 0, len(todo), {"ok": len(todo)})

    run_tuned_grid("g", [block()], tmp_path, train, log=lambda _: None)
    wider = [{**OPTIMIZERS[0], "tune": {"lr": [0.03, 0.1, 0.3, 1.0, 10.0]}}, OPTIMIZERS[1]]
    blocks = [{**block(), "axes": {**block()["axes"], "optimizer": wider}}]
    outcome = run_tuned_grid("g", blocks, tmp_path, train, log=lambda _: None)
    assert outcome.trained == 2 * 2 * 2  # the new candidate's tuning runs (2 seeds per cell)
    plan = plan_grid("g", blocks, read_records(folder, set_aside=False))
    grid = json.loads((folder / "grid.json").read_text())
    assert [g["run_id"] for g in grid] == [r.run_id for r in plan.runs]
    assert len(grid) == 2 * 2 * 2 * 3 and plan.pending_finals == 0


def test_poisoned_test_labels_change_no_selection(tmp_path, data_dir, monkeypatch):
    """End to end on digits: shuffling the test labels changes test accuracy, not the tuning."""
    blocks = [
        {
            "base": {**BASE, "epochs": 2},
            "axes": {"optimizer": OPTIMIZERS[:1], "seed": [0]},
            "tune": {"seeds": [0, 1]},
        }
    ]

    def run(folder):
        def train(finals, only):
            return run_grid("g", finals, folder, data_dir, jobs=1, only=only, log=lambda _: None)

        run_tuned_grid("g", blocks, folder, train, log=lambda _: None)
        return json.loads((folder / "g" / TUNING_FILE).read_text()), read_records(folder / "g")

    clean, clean_records = run(tmp_path / "clean")
    real = DigitsDataset.load_raw

    def poisoned(self, data_dir=None):
        raw = real(self, data_dir)
        return {**raw, "test_labels": np.random.default_rng(0).permutation(raw["test_labels"])}

    monkeypatch.setattr(DigitsDataset, "load_raw", poisoned)
    dirty, dirty_records = run(tmp_path / "dirty")
    assert dirty["cells"] == clean["cells"]
    final = clean["final_run_ids"][0]
    assert dirty_records[final]["test_acc"] != clean_records[final]["test_acc"]


def test_cli_rejects_a_bad_tune_spec_with_one_line_and_writes_nothing(tmp_path):
    from test_cli import run_all

    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"bad": [block(space={"lr": []})]}))
    result = run_all(
        "--grid-file", str(grid_file), "--grid", "bad", "--results-dir", str(tmp_path / "results")
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'lr' must be a non-empty list" in lines[0]
    assert not (tmp_path / "results").exists()


def test_cli_lists_a_tuned_grid_with_its_pending_finals(tmp_path):
    from test_cli import run_all

    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"tuned": [block(per=["optimizer"])]}))
    result = run_all(
        "--grid-file",
        str(grid_file),
        "--grid",
        "tuned",
        "--list",
        "--results-dir",
        str(tmp_path / "results"),
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.strip().splitlines()[-1]
        == "tuned: 14 runs (14 tuning runs; 24 final runs pending tuning results)"
    )
    assert "trial" in result.stdout.splitlines()[0]
