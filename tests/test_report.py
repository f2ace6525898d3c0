"""The report: every section rendered from synthetic records (diverged and error runs, a missing
seed, a single seed, a single dataset, an extra label column), byte-identical re-renders."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_record

from ablations.records.store import write_json_atomic
from ablations.analysis.report import render_report
from ablations.analysis.report.needs import ReportNeeds
from ablations.analysis.report.sections import SECTIONS, Section, scatter_factors
from ablations.analysis.report.text import interval, number, p_value

HEADINGS = [
    "# scratchbench report",
    "**Verdicts**",
    "## Runs",
    "## Summary",
    "Findings, each with the test behind it:",
    "## With and without each component",
    "## Distributions: IQM and performance profiles",
    "## Interactions",
    "## Learning curves",
    "## Cost",
    "### Time to target",
    "## Factor importance",
    "## Baselines",
    "## The best model",
    "## Failures",
    "## All runs",
]
FASHION = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def synthetic_grid(
    folder, datasets=("mnist", "fashion_mnist"), seeds=range(6), extra=None, trainer="nn_core"
):
    """Records for optimizer x activation x dataset x seeds; one diverged, one error, one
    seed missing. Accuracy = base + 3 points for adam + 1 for relu + noise. `extra`: a label
    added to every run (a future grid's phase column)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    runs = []
    for dataset in datasets:
        for opt in ["sgd", "adam"]:
            for act in ["tanh", "relu"]:
                for seed in seeds:
                    rid = f"{dataset}-{opt}-{act}-{seed}"
                    labels = {
                        "dataset": dataset,
                        "optimizer": opt,
                        "activation": act,
                        "seed": str(seed),
                        **(extra or {}),
                    }
                    config = {
                        "dataset": dataset,
                        "seed": seed,
                        "hidden": [32],
                        "epochs": 3,
                        "batch_size": 64,
                        "schedule": "constant",
                        "val_size": 500,
                        "normalize": "per_pixel" if dataset == "fashion_mnist" else "none",
                        "trainer": trainer,
                        "optimizer": opt,
                        "activation": act,
                        "lr": 1e-3,
                        "l2": 0.0,
                        "optimizer_params": {},
                    }
                    runs.append({"run_id": rid, "labels": labels, "config": config})
                    if (dataset, opt, act, seed) == (datasets[0], "sgd", "relu", 2):
                        continue  # a missing seed: the run is pending
                    acc = (
                        0.9 + 0.03 * (opt == "adam") + 0.01 * (act == "relu") + rng.normal(0, 0.002)
                    )
                    confusion = np.eye(10, dtype=int) * 90 + 1
                    status = (
                        "diverged"
                        if (opt, act, seed) == ("sgd", "tanh", 1)
                        else "error"
                        if (opt, act, seed) == ("adam", "tanh", 2)
                        else "ok"
                    )
                    runner = {
                        "schema": 2,
                        "labels": labels,
                        "config": config,
                        "wall_time_s": 4.0,
                        "finished_at": "2026-11-22T10:00:00",
                        "environment": {"cpu": "test cpu", "cores": 2},
                        "code_version": "abc1234+dirty" if seed == 0 else "abc1234",
                    }
                    measured = {
                        "test_acc": acc,
                        "test_loss": 1 - acc,
                        "best_val_acc": acc,
                        "final_val_acc": acc,
                        "train_time_s": 3.0 + (opt == "adam"),
                        "eval_time_s": 0.1,
                        "epochs_run": 3,
                        "epochs_to_target": 2,
                        "seconds_to_target": 2.0,
                        "n_params": 100,
                        "history": {
                            "val_acc": [acc - 0.05, acc - 0.01, acc],
                            "train_loss": [1, 0.5, 0.3],
                            "train_time_s": [1, 1, 1],
                        },
                        "test_confusion": confusion.tolist(),
                        "test_misclassified": [[0, 6, 0], [1, 3, 5]],
                    }
                    if status == "diverged":
                        measured.update(test_acc=None, epochs_run=1)
                    record = synthetic_record(
                        rid, status, **runner, **(measured if status != "error" else {})
                    )
                    write_json_atomic(folder / f"{rid}.json", record)
    write_json_atomic(folder / "grid.json", runs)


REFERENCES = ReportNeeds(references=("baselines", "tutorials"))  # as this project's study declares


def render(tmp_path, grid="synthetic"):
    return render_report(
        grid, tmp_path / "results", tmp_path / "reports", tmp_path / "data", REFERENCES
    ).read_text()


def files(tmp_path):
    return {
        p.relative_to(tmp_path): p.read_bytes()
        for p in sorted((tmp_path / "reports").rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("datasets", [("mnist", "fashion_mnist"), ("mnist",)])
def test_every_section_is_rendered_and_rerendering_is_byte_identical(tmp_path, datasets):
    synthetic_grid(tmp_path / "results" / "synthetic", datasets)
    text = render(tmp_path)
    for heading in HEADINGS:
        assert heading in text, heading
    assert "1 pending" in text and f"{len(datasets)} diverged" in text
    assert "ValueError: boom" in text
    # the finding is computed from the records: adam was made 3 points better
    assert re.search(
        r"`adam` beats `sgd` by \+(2\.[89]|3\.[01])\d points on average over "
        r"these settings \(95% CI \[",
        text,
    )
    assert "Holm p " in text and "P(A>B)" not in text
    # two levels of activation are too few to answer the across-settings question
    assert (
        "across settings this design cannot test it (random effects, one-way over 2 cells; "
        "not tested: the test needs 3 levels or more per factor)" in text
    )
    assert "These conclusions hold for the settings this grid held fixed: " in text
    assert (
        "mnist: architecture 784-32-10, epochs 3, batch 64, inputs scaled to [0, 1], "
        "schedule constant, validation images 500"
    ) in text
    figures = sorted((tmp_path / "reports" / "figures" / "synthetic").glob("*.png"))
    assert len(figures) >= 5 * len(datasets) and all(f.stat().st_size > 1000 for f in figures)
    for figure in figures:
        assert f"figures/synthetic/{figure.name}" in text
    for name in ["forest", "profiles", "confusion", "cost", "curves", "interactions"]:
        assert f"{name}_mnist.png" in text
    csv = pd.read_csv(tmp_path / "reports" / "synthetic_summary.csv")
    assert len(csv) == 24 * len(datasets)
    before = files(tmp_path)
    assert render(tmp_path) == text
    assert files(tmp_path) == before  # markdown, csv and every png


def test_the_effect_table_holds_every_statistic(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",))
    text = render(tmp_path)
    header = (
        "| optimizer | test acc % | Δ | 95% CI | p | across 95% CI | across p | cells won | "
        "het. p | Holm p | MDE | verdict | pairs | Δ s/epoch |"
    )
    assert re.sub(r" +", " ", header) in re.sub(r" +", " ", text)
    assert re.search(r"\| adam +\| 9\d\.\d\d +\| \+\d\.\d\d +\| \[\+\d\.\d\d, \+\d\.\d\d\] ", text)
    assert re.search(r"\| 2/0 of 2 +\|.*\| beats on average +\|", text)
    assert "Test-set SE on mnist:" in text and "test-set SE" in text
    assert "IQM %" in text
    assert "within cells (seeds)" in text and "higher-order interactions" in text


def test_the_best_configuration_is_chosen_on_validation_not_test(tmp_path):
    folder = tmp_path / "results" / "synthetic"
    synthetic_grid(folder, ("mnist",))
    for path in folder.glob("mnist-*.json"):  # validation prefers sgd / tanh, the test's worst
        record = json.loads(path.read_text())
        record["final_val_acc"] = 0.99 if "-sgd-tanh-" in path.name else 0.5
        write_json_atomic(path, record)
    text = render(tmp_path)
    summary = text.split("## Summary")[1].split("Findings, each")[0]
    assert re.search(r"\| mnist +\| sgd +\| tanh +\| 99\.00 ", summary)  # the grid's order
    assert "chosen by mean final validation accuracy" in summary
    assert "### mnist: sgd / tanh, seed" in text  # the best model shown is that configuration's


def test_the_cost_scatter_is_coloured_by_optimizer_and_marked_by_activation():
    assert scatter_factors(("activation", "optimizer", "regime")) == [
        "optimizer",
        "activation",
        "regime",
    ]
    assert scatter_factors(("regularization", "regime")) == ["regularization", "regime"]


def test_class_names_and_integer_confusion_counts(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("fashion_mnist",))
    text = render(tmp_path)
    best = text.split("## The best model")[1]
    header = next(line for line in best.splitlines() if line.startswith("| true"))
    assert [c.strip() for c in header.split("|")[2:12]] == FASHION
    for name in FASHION:
        assert f"| {name}" in best
    # integer counts in every cell, then the per-class accuracy
    assert re.search(r"\| T-shirt/top +\| +91 +\| +1 +\| +1 +(\| +1 +){7}\| +91\.0 +\|", best)
    assert not re.search(r"\| +1\.0 +\|", best)


def test_a_single_seed_gives_na_intervals_not_a_crash(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",), seeds=(0,))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render(tmp_path)
    effects = text.split("## With and without")[1].split("## Distributions")[0]
    assert "n/a" in effects and "nan" not in text
    # one seed per cell: no seed noise to test against, and two levels are too few
    assert "`adam` against `sgd`: this design cannot test it (one seed per cell" in text
    assert "not tested: the test needs 3 levels or more per factor" in text
    assert "lead not tested" in text  # the best configuration's lead, on one seed


def test_a_small_effect_is_said_to_be_undetected_with_its_mde(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",), seeds=(0, 1, 2))
    text = render(tmp_path)
    # relu's planted +1 point rests on 3 pairs in 2 cells here (one diverged, one error, one
    # pending run): 1 degree of freedom, too few to see it
    assert re.search(
        r"`relu` is not distinguishable from `tanh` \(\+\d\.\d\d points, 95% CI "
        r"\[-\d\.\d\d, \+\d\.\d\d\], Holm p = 0\.\d+\): effects smaller than "
        r"\d\.\d\d points could go undetected",
        text,
    )


def test_dirty_code_versions_are_marked_in_the_header(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",))
    header = render(tmp_path).split("## Summary")[0]
    assert "abc1234+dirty (**uncommitted tree**)" in header
    assert "runs at abc1234 in" in header
    assert re.search(r"\*\*Uncommitted code:\*\* 4 of 24 records", header)


def test_the_baseline_is_named_with_its_scikit_learn_settings(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",))
    synthetic_grid(tmp_path / "results" / "baselines", ("mnist",), trainer="sklearn_mlp")
    baselines = render(tmp_path).split("## Baselines")[1].split("## The best")[0]
    assert "scikit-learn's `MLPClassifier`" in baselines
    assert (
        "hidden_layer_sizes=(32,), activation='relu', solver='adam', "
        "learning_rate_init=0.001, learning_rate='constant', batch_size=64, alpha=0.0" in baselines
    )


def test_misclassified_images_are_read_from_the_given_data_dir(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",))
    text = render(tmp_path)
    assert f"_misclassified images not drawn: mnist: {tmp_path / 'data' / 'mnist'}" in text


def test_extra_label_columns_do_not_break_the_report(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic", ("mnist",), extra={"phase": "tune"})
    text = render(tmp_path)
    assert "phase (1 level, baseline `tune`)" in text
    assert "`adam` beats `sgd`" in text


def test_a_corrupt_record_does_not_crash_the_report(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic")
    (tmp_path / "results" / "synthetic" / "mnist-adam-relu-0.json").write_text("{ not json")
    assert "2 pending" in render(tmp_path)
    assert json.loads((tmp_path / "results" / "synthetic" / "grid.json").read_text())


def test_a_dataset_whose_runs_are_all_pending_does_not_crash_the_report(tmp_path):
    """A grid part-way through (a showcase built in sittings): one dataset has no record yet."""
    folder = tmp_path / "results" / "synthetic"
    synthetic_grid(folder)
    for path in folder.glob("fashion_mnist-*.json"):
        path.unlink()
    text = render(tmp_path)
    assert "pending" in text and "## The best model" in text


def test_levels_never_paired_with_the_baseline_get_no_effect_and_no_nan(tmp_path):
    """Conditional sub-grids: adam only ever runs with relu and sgd with tanh."""
    folder = tmp_path / "results" / "synthetic"
    synthetic_grid(folder)
    runs = [
        r
        for r in json.loads((folder / "grid.json").read_text())
        if (r["labels"]["optimizer"] == "adam") == (r["labels"]["activation"] == "relu")
    ]
    write_json_atomic(folder / "grid.json", runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render(tmp_path)
    assert "no runs pair `adam` with the baseline `sgd`" in text
    assert "nan" not in text.split("## With and without")[0]


def test_sections_are_functions_of_the_data_listed_once():
    assert len(SECTIONS) == len(set(SECTIONS)) >= 12
    assert all(callable(section) for section in SECTIONS)
    assert Section("text").figures == {}


def test_the_contrast_csv_agrees_with_the_markdown_tables(tmp_path):
    synthetic_grid(tmp_path / "results" / "synthetic")
    text = render(tmp_path)
    csv = pd.read_csv(tmp_path / "reports" / "synthetic_contrasts.csv")
    assert {
        "id",
        "dataset",
        "regime",
        "factor",
        "level",
        "baseline",
        "verdict",
        "question",
        "estimate",
        "holm_p",
        "mde",
        "cells",
        "pairs",
        "fixed_cells_ci_low",
        "fixed_cells_ci_high",
        "fixed_cells_p",
        "across_ci_low",
        "across_ci_high",
        "across_p",
        "across_model",
        "heterogeneity_p",
        "cells_won_holm",
    } <= set(csv.columns)
    assert len(csv) == 2 * 2  # per dataset: adam vs sgd, relu vs tanh
    for _, row in csv.iterrows():
        section = text.split(f"### {row['dataset']}")[1].split("Test-set SE on")[0]
        table = section.split(f"**{row['factor']}**")[1].split("\n\n")[1]
        line = next(x for x in table.splitlines() if x.startswith(f"| {row['level']} "))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2].rstrip("†") == number(row["estimate"])
        assert cells[3] == interval(row["fixed_cells_ci_low"], row["fixed_cells_ci_high"])
        assert cells[5] == interval(row["across_ci_low"], row["across_ci_high"])
        assert cells[9] == p_value(row["holm_p"]) and cells[10] == number(row["mde"], ".2f")
        assert cells[11].startswith(row["verdict"]) and cells[12] == str(row["pairs"])
    page = (tmp_path / "reports" / "synthetic_cells.md").read_text()
    assert page.count("\n## ") == len(csv)  # one table of cells per contrast


def test_one_cell_renders_and_is_answered_in_its_one_setting(tmp_path):
    folder = tmp_path / "results" / "synthetic"
    synthetic_grid(folder, ("mnist",))
    runs = [
        r
        for r in json.loads((folder / "grid.json").read_text())
        if r["labels"]["activation"] == "tanh"
    ]
    write_json_atomic(folder / "grid.json", runs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render(tmp_path)
    finding = next(line for line in text.splitlines() if line.startswith("- **optimizer**"))
    assert "`adam` beats `sgd` by +" in finding and "in its one setting" in finding
    assert "across settings" not in finding  # one cell: the question does not arise
    assert "nan" not in text
