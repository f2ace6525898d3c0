"""A hill-climb grid's report: trained end to end on digits (a few seconds), its tuning records
exist only for the candidates each climb visited, and the report still renders: the
sensitivity curves draw the visited points, and the edge flags take the range from the whole
candidate list."""

import json

import pytest

from ablations.analysis import diagnostics
from ablations.analysis.report import render_report
from ablations.records.store import TUNING_FILE, read_records
from ablations.run.runner import run_grid
from ablations.run.tuning import run_tuned_grid

LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
HILL_GRID = [
    {
        "base": {"dataset": "digits", "hidden": [16], "epochs": 2, "batch_size": 64},
        "axes": {
            "optimizer": [{"optimizer": "sgd", "tune": {"lr": LRS, "start": {"lr": 0.01}}}],
            "activation": ["relu", "tanh"],
            "seed": [0, 1],
        },
        "tune": {"seeds": [5], "search": "hill"},
    }
]


@pytest.fixture(scope="module")
def hill_grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("hill")
    data_dir = root / "data"
    data_dir.mkdir()

    def train(finals, only):
        return run_grid("hill", finals, root / "results", data_dir, jobs=1, only=only, log=str)

    run_tuned_grid("hill", HILL_GRID, root / "results", train, log=str)
    return root


def test_hill_grid_trains_only_the_visited_candidates(hill_grid):
    folder = hill_grid / "results" / "hill"
    tuning = json.loads((folder / TUNING_FILE).read_text())
    records = read_records(folder, set_aside=False)
    for cell in tuning["cells"]:
        visited = [s["lr"] for s in cell["visited"]]
        assert cell["search"] == "hill" and visited[0] == 0.01 and cell["selected"] is not None
        assert [t["settings"]["lr"] for t in cell["rungs"][0]["trials"]] == sorted(visited)
        assert all(rid in records for t in cell["rungs"][0]["trials"] for rid in t["run_ids"])
    tuned = {r["config"]["lr"] for r in records.values() if "trial" in r["labels"]}
    assert tuned < set(LRS)  # the premise: some candidates have no record at all


def test_hill_grid_report_renders_the_visited_points(hill_grid):
    folder = hill_grid / "results" / "hill"
    tuning = json.loads((folder / TUNING_FILE).read_text())
    records = read_records(folder, set_aside=False)
    curves = diagnostics.lr_sensitivity(diagnostics.trials_frame(tuning, records))
    for cell in tuning["cells"]:
        line = curves[curves["activation"] == cell["cell"]["activation"]]
        assert line["lr"].tolist() == sorted(s["lr"] for s in cell["visited"])
        assert line["final_val_acc"].notna().all()
    flags = diagnostics.boundary_flags(tuning)
    assert (flags["low"] == LRS[0]).all() and (flags["high"] == LRS[-1]).all()
    report = render_report(
        "hill", hill_grid / "results", hill_grid / "reports", hill_grid / "data"
    ).read_text()
    assert "### Learning-rate sensitivity" in report and "### What each cell selected" in report
    assert "every lr candidate trained (a hill climb's cells: the candidates it visited" in report
    assert (hill_grid / "reports" / "figures" / "hill" / "lr_sensitivity_digits.png").is_file()
