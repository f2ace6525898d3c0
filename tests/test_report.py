"""The report: statistics checked by hand, every section rendered from synthetic records."""
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from ablations.records import write_json_atomic
from ablations.report import render_report
from ablations.stats import mean_ci, paired_differences, pareto_front, variance_shares


def test_mean_ci_by_hand():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])
    # sd = 1, sem = 1/sqrt(3), t(0.975, df=2) = 4.302653
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert np.isnan(mean_ci([5.0])[1])


def test_paired_differences_match_on_the_other_factors():
    df = pd.DataFrame({"opt": ["sgd", "adam", "sgd", "adam", "adam"],
                       "seed": [0, 0, 1, 1, 2],
                       "acc": [0.90, 0.95, 0.80, 0.86, 0.99]})
    diffs = paired_differences(df, "opt", "adam", "sgd", "acc", ["seed"])
    np.testing.assert_allclose(sorted(diffs), [0.05, 0.06])  # seed 2 has no sgd twin


def test_variance_shares_by_hand():
    df = pd.DataFrame({"a": ["a1", "a1", "a2", "a2"], "b": ["b1", "b2", "b1", "b2"],
                       "y": [1.0, 3.0, 5.0, 7.0]})
    shares = variance_shares(df, ["a", "b"], "y")  # SS_total 20, SS_a 16, SS_b 4, SS_ab 0
    assert shares["a"] == pytest.approx(0.8)
    assert shares["b"] == pytest.approx(0.2)
    assert shares["a x b"] == pytest.approx(0.0, abs=1e-12)


def test_pareto_front():
    np.testing.assert_array_equal(pareto_front([1, 2, 3, 3], [0.5, 0.4, 0.9, 0.8]),
                                  [True, False, True, False])


SECTIONS = ["# scratchbench report", "## Summary", "Findings:", "## With and without each component",
            "## Interactions", "## Learning curves", "## Cost", "### Time to target",
            "## Factor importance", "## Baselines", "## The best model", "## Failures",
            "## All runs"]


def synthetic_grid(folder, datasets=("mnist", "fashion_mnist")):
    """Records for optimizer x activation x dataset x 3 seeds; one diverged, one error, one
    seed missing. Accuracy = base + 3 points for adam + 1 for relu + noise."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    runs = []
    for dataset in datasets:
        for opt in ["sgd", "adam"]:
            for act in ["tanh", "relu"]:
                for seed in [0, 1, 2]:
                    rid = f"{dataset}-{opt}-{act}-{seed}"
                    labels = {"dataset": dataset, "optimizer": opt, "activation": act,
                              "seed": str(seed)}
                    runs.append({"run_id": rid, "labels": labels,
                                 "config": {"dataset": dataset, "seed": seed}})
                    if (dataset, opt, act, seed) == (datasets[0], "sgd", "relu", 2):
                        continue  # a missing seed: the run is pending
                    acc = 0.9 + 0.03 * (opt == "adam") + 0.01 * (act == "relu") + rng.normal(0, .002)
                    curve = [acc - 0.05, acc - 0.01, acc]
                    record = {"schema": 1, "run_id": rid, "labels": labels, "config": runs[-1]["config"],
                              "status": "ok", "error": None, "test_acc": acc, "test_loss": 1 - acc,
                              "best_val_acc": acc, "train_time_s": 3.0 + (opt == "adam"),
                              "eval_time_s": 0.1, "wall_time_s": 4.0, "epochs_run": 3,
                              "epochs_to_target": 2, "seconds_to_target": 2.0, "n_params": 100,
                              "history": {"val_acc": curve, "train_loss": [1, .5, .3],
                                          "train_time_s": [1, 1, 1]},
                              "test_confusion": (np.eye(10, dtype=int) * 90 + 1).tolist(),
                              "test_misclassified": [], "finished_at": "2026-11-22T10:00:00",
                              "environment": {"cpu": "test cpu", "cores": 2}, "code_version": "abc"}
                    if (opt, act, seed) == ("sgd", "tanh", 1):
                        record.update(status="diverged", test_acc=None, epochs_run=1)
                    if (opt, act, seed) == ("adam", "tanh", 2):
                        record.update(status="error", error="ValueError: boom", test_acc=None)
                    write_json_atomic(folder / f"{rid}.json", record)
    write_json_atomic(folder / "grid.json", runs)


@pytest.mark.parametrize("datasets", [("mnist", "fashion_mnist"), ("mnist",)])
def test_every_section_is_rendered_and_rerendering_is_identical(tmp_path, datasets):
    synthetic_grid(tmp_path / "results" / "synthetic", datasets)
    path = render_report("synthetic", tmp_path / "results", tmp_path / "reports")
    text = path.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    assert "1 pending" in text and f"{len(datasets)} diverged" in text
    assert "ValueError: boom" in text
    # the finding is computed from the records: adam was made 3 points better
    assert re.search(r"`adam` beats `sgd` by \+(2\.[89]|3\.[01])\d ± 0\.\d+", text)
    figures = sorted((tmp_path / "reports" / "figures" / "synthetic").glob("*.png"))
    assert len(figures) >= 3 * len(datasets) and all(f.stat().st_size > 1000 for f in figures)
    for figure in figures:
        assert f"figures/synthetic/{figure.name}" in text
    csv = pd.read_csv(tmp_path / "reports" / "synthetic_summary.csv")
    assert len(csv) == 12 * len(datasets)
    before = {f.name: f.read_bytes() for f in figures}
    assert render_report("synthetic", tmp_path / "results", tmp_path / "reports").read_text() == text
    assert {f.name: f.read_bytes() for f in figures} == before


def test_a_corrupt_record_does_not_crash_the_report(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic")
    (tmp_path / "results" / "synthetic" / "mnist-adam-relu-0.json").write_text("{ not json")
    text = render_report("synthetic", tmp_path / "results", tmp_path / "reports").read_text()
    assert "2 pending" in text
    assert json.loads((tmp_path / "results" / "synthetic" / "grid.json").read_text())


def test_levels_never_paired_with_the_baseline_get_no_effect_and_no_nan(tmp_path):
    """Conditional sub-grids: adam only ever runs with relu and sgd with tanh."""
    folder = tmp_path / "results" / "synthetic"
    synthetic_grid(folder)
    runs = [r for r in json.loads((folder / "grid.json").read_text())
            if (r["labels"]["optimizer"] == "adam") == (r["labels"]["activation"] == "relu")]
    write_json_atomic(folder / "grid.json", runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render_report("synthetic", tmp_path / "results", tmp_path / "reports").read_text()
    assert "no runs pair `adam` with the baseline `sgd`" in text
    assert "nan" not in text.split("## With and without")[0]
