"""The lr hill climb as a tuning search ("search": "hill"): its walk on hand-made scores, its
phases planned from the records, its agreement with the full list on a unimodal curve, the
diverged-trial rule, what tuning.json says it visited, and bad specs rejected in one line."""

import json

import pytest

from ablations.grid.config import GridError
from ablations.records.store import TUNING_FILE, read_records, write_json_atomic
from ablations.run.runner import GridOutcome
from ablations.run.tuning import hill_climb, plan_grid, run_tuned_grid

from test_tuning import OPTIMIZERS, block, fake_records, settle

# sgd starts at its largest candidate (its peak, 0.1, is two steps down); adam at its middle
HILL_OPTIMIZERS = [
    {"optimizer": "sgd", "tune": {**OPTIMIZERS[0]["tune"], "start": {"lr": 1.0}}},
    OPTIMIZERS[1],
]


def hill_block(**tune):
    spec = block(per=["optimizer"], search="hill", **tune)
    return {**spec, "axes": {**spec["axes"], "optimizer": HILL_OPTIMIZERS}}


def lrs(cell, key):
    return [settings["lr"] for settings in cell[key]]


@pytest.mark.parametrize(
    "scores,start,visited,best",
    [
        ([0.1, 0.5, 0.9, 0.8, 0.3, 0.2], 5, [5, 4, 3, 2, 1], 2),  # down the slope to the peak
        ([0.1, 0.5, 0.9, 0.8, 0.3, 0.2], 0, [0, 1, 2, 3], 2),  # up it
        ([0.9, 0.5, 0.1], 0, [0, 1], 0),  # best at the end of the list: stop there
        ([0.1, 0.5, 0.9], 1, [1, 0, 2], 2),
        ([0.5, 0.5, 0.5, 0.5], 2, [2, 1, 3, 0], 0),  # ties: the first candidate, at the end
        ([0.7], 0, [0], 0),
    ],
)
def test_hill_climb_walks_from_its_start_toward_the_better_side(scores, start, visited, best):
    assert hill_climb(len(scores), start, scores.__getitem__) == (visited, best)


def test_hill_climb_waits_for_a_visited_score():
    scores = [0.1, 0.5, None, 0.8]
    assert hill_climb(4, 3, scores.__getitem__) == ([3, 2], None)


def test_hill_plans_one_step_per_phase_from_the_records():
    records, phases = {}, []
    while True:
        plan = plan_grid("g", [hill_block()], records)
        missing = [r for r in plan.all_runs() if r.run_id not in records]
        if not missing:
            break
        trials = [r for r in missing if "trial" in r.labels]
        phases.append(sorted({(r.config["optimizer"], r.config["lr"]) for r in trials}))
        records.update(fake_records(missing))
    assert phases[0] == [
        ("adam", 1e-3),
        ("adam", 3e-3),
        ("adam", 1e-2),
        ("sgd", 0.3),
        ("sgd", 1.0),
    ]
    assert phases[1] == [("sgd", 0.1)]  # 0.3 beat 1.0: one step down (and adam's finals)
    assert phases[2] == [("sgd", 0.03)]  # 0.1 beat 0.3: one more
    assert phases[3] == []  # 0.1 beat 0.03: interior, the climb is over; sgd's finals
    sgd, adam = plan.cells
    assert sgd["cell"]["optimizer"] == "sgd" and adam["cell"]["optimizer"] == "adam"
    assert lrs(sgd, "visited") == [1.0, 0.3, 0.1, 0.03] and sgd["selected"] == {"lr": 0.1}
    assert lrs(adam, "visited") == [3e-3, 1e-3, 1e-2] and adam["selected"] == {"lr": 3e-3}
    assert plan.pending_finals == 0 and len(plan.runs) == 2 * 2 * 2 * 3


def test_hill_selects_what_the_full_list_selects_on_fewer_shared_runs():
    full, _ = settle([block(per=["optimizer"])])
    hill, _ = settle([block(per=["optimizer"], search="hill")])  # from the middle candidates
    assert [c["selected"] for c in hill.cells] == [c["selected"] for c in full.cells]
    assert [r.run_id for r in hill.runs] == [r.run_id for r in full.runs]
    hill_ids, full_ids = {r.run_id for r in hill.tuning}, {r.run_id for r in full.tuning}
    assert hill_ids < full_ids  # the same trial runs (run ids), fewer of them
    sgd = hill.cells[0]
    assert lrs(sgd, "candidates") == [0.03, 0.1, 0.3, 1.0]
    assert [t["settings"]["lr"] for t in sgd["rungs"][0]["trials"]] == [0.03, 0.1, 0.3]
    assert "search" not in full.cells[0]  # a full search's summary is as before


def test_hill_a_diverged_neighbour_scores_zero_and_ends_the_climb():
    plan = plan_grid("g", [hill_block()])
    records = fake_records(plan.tuning)
    for run in plan.tuning:
        if run.config["optimizer"] == "sgd" and run.config["lr"] == 0.3 and run.config["seed"]:
            records[run.run_id].update(status="diverged", final_val_acc=None)
    sgd = plan_grid("g", [hill_block()], records).cells[0]
    trial = next(t for t in sgd["rungs"][0]["trials"] if t["settings"] == {"lr": 0.3})
    assert trial["diverged"] == 1 and trial["score"] < 0.5
    # 1.0 is then the best visited, at the end of the list: the climb stops there
    assert lrs(sgd, "visited") == [1.0, 0.3] and sgd["selected"] == {"lr": 1.0}


def test_hill_starts_at_the_blocks_start_else_the_middle_candidate():
    middle = plan_grid("g", [block(per=["optimizer"], search="hill")])
    assert [lrs(c, "visited") for c in middle.cells] == [[0.1, 0.03, 0.3], [3e-3, 1e-3, 1e-2]]
    blocks = [block(per=["optimizer"], search="hill", space={"lr": [0.01, 0.1, 1.0]})]
    blocks[0]["axes"]["optimizer"] = [{"optimizer": "sgd"}]
    blocks[0]["tune"]["start"] = {"lr": 1.0}
    assert lrs(plan_grid("g", blocks).cells[0], "visited") == [1.0, 0.1]


def test_hill_tuning_json_says_which_candidates_were_visited(tmp_path):
    folder = tmp_path / "g"

    def train(finals, todo):  # the runner's contract, with fake records instead of training
        folder.mkdir(exist_ok=True)
        for run_id, record in fake_records(todo).items():
            write_json_atomic(folder / f"{run_id}.json", record)
        return GridOutcome(len(todo), 0, len(todo), {"ok": len(todo)})

    run_tuned_grid("g", [hill_block()], tmp_path, train, log=lambda _: None)
    saved = json.loads((folder / TUNING_FILE).read_text())
    sgd = saved["cells"][0]
    assert sgd["search"] == "hill" and lrs(sgd, "visited") == [1.0, 0.3, 0.1, 0.03]
    assert sgd["selected"] == {"lr": 0.1}
    plan = plan_grid("g", [hill_block()], read_records(folder, set_aside=False))
    assert saved["tuning_run_ids"] == [r.run_id for r in plan.tuning]
    assert len(saved["tuning_run_ids"]) == (4 + 3) * 2  # visited x tuning seeds


BAD_HILL_SPECS = [
    ({"search": "hil"}, "unknown search 'hil'; did you mean 'hill'? known: full, hill"),
    (
        {"search": "hill", "halving": {"epochs": [1, 3], "keep": 0.5}},
        "search 'hill' and halving cannot be combined",
    ),
    ({"start": {"lr": 0.1}}, "a start is for search 'hill' only"),
    ({"search": "hill", "start": 0.1}, "a start must be {setting: value}"),
    ({"search": "hill", "start": {"lr": 0.2}}, "hill start {'lr': 0.2} is not a candidate"),
    (
        {"search": "hill", "space": {"lr": [0.1, 0.3], "momentum": [0.8, 0.9]}},
        "search 'hill' climbs one setting, got 2: lr, momentum",
    ),
    ({"search": "hill", "space": {"lr": [0.3, 0.1]}}, "candidates as increasing numbers"),
]


@pytest.mark.parametrize("spec,message", BAD_HILL_SPECS)
def test_bad_hill_specs_give_one_line(spec, message):
    blocks = [block(**spec)]
    if "space" in spec:  # the block's space alone, with every level's own list taken out
        blocks[0]["axes"]["optimizer"] = [{"optimizer": "sgd"}]
    with pytest.raises(GridError) as info:
        plan_grid("g", blocks)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cli_rejects_an_unknown_search_with_one_line_and_writes_nothing(tmp_path):
    from test_cli import run_all

    grid_file = tmp_path / "grids.json"
    grid_file.write_text(json.dumps({"bad": [block(search="hil")]}))
    result = run_all(
        "--grid-file", str(grid_file), "--grid", "bad", "--results-dir", str(tmp_path / "results")
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown search 'hil'" in lines[0]
    assert not (tmp_path / "results").exists()
