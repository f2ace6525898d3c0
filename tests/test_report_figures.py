"""Figures per regime in the grid's axis order, each run counted once, the variance decomposition
within balanced sub-designs, time to target as a test, and what the shared lr costs: from
synthetic records with planted structure."""

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from test_report_protocol import Grid
from ablations.analysis import diagnostics
from ablations.analysis.report import render_report
from ablations.analysis.report.needs import ReportNeeds
from ablations.analysis.report.facets import curves, distributions, interactions
from ablations.analysis.report.frame import load_data
from ablations.analysis.report.protocol import shared_lr_check

# Declared order, not alphabetical: grid.json must keep it and the figures follow it.
AXES = ("regime", "dataset", "optimizer", "activation", "regularization", "seed")
# Regimes whose runs differ strongly (about 50% against 90%): a pooled panel would mix them.
REGIMES = {
    "short": (0.50, ["sgd", "adam"], ["tanh", "relu"], ["none"]),
    "long": (0.90, ["sgd", "adam"], ["tanh", "relu"], ["none", "dropout"]),
}


def regime_grid(root, name="regimes", shared=False, drop=(), seeds=range(3)):
    """Both REGIMES on mnist, labels in AXES order. `shared`: the short regime's sgd / tanh /
    none runs are listed under the long regime too (one run id, one record, as when a tuned lr
    equals the default). `drop`: (regime, optimizer, activation, regularization, seed) runs
    left pending."""
    grid = Grid(root, name)
    for regime, (base, optimizers, activations, regularizers) in REGIMES.items():
        for opt in optimizers:
            for act in activations:
                for reg in regularizers:
                    for seed in seeds:
                        labels = dict(zip(AXES, [regime, "mnist", opt, act, reg, str(seed)]))
                        rid = f"{regime}-{opt}-{act}-{reg}-{seed}"
                        if (
                            shared
                            and regime == "long"
                            and (opt, act, reg) == ("sgd", "tanh", "none")
                        ):
                            rid = f"short-{opt}-{act}-{reg}-{seed}"
                            grid.runs.append(
                                {
                                    "run_id": rid,
                                    "labels": labels,
                                    "config": grid.runs[0]["config"] | {"seed": seed},
                                }
                            )
                            continue
                        config = {
                            "dataset": "mnist",
                            "seed": seed,
                            "optimizer": opt,
                            "activation": act,
                            "lr": 0.1,
                            "epochs": 3,
                            "hidden": [32],
                        }
                        if (regime, opt, act, reg, seed) in drop:
                            grid.runs.append({"run_id": rid, "labels": labels, "config": config})
                            continue
                        acc = base + 0.03 * (opt == "adam") + 0.01 * (reg == "dropout")
                        fast = (1, 10.0) if opt == "adam" else (3, 30.0)
                        grid.record(rid, labels, config, acc, to_target=fast)
    grid.save()
    return root


def data_of(tmp_path, name="regimes", needs=ReportNeeds()):
    return load_data(name, tmp_path / "results", tmp_path / "data", needs)


def render(tmp_path, name="regimes", needs=ReportNeeds()):
    return render_report(
        name, tmp_path / "results", tmp_path / "reports", tmp_path / "data", needs
    ).read_text()


def panels(figure):
    """(title, axes) of every panel of a figure that has a title."""
    return [(ax.get_title(), ax) for ax in figure.axes if ax.get_title()]


def test_the_axis_order_survives_grid_json_and_reaches_the_figures(tmp_path):
    regime_grid(tmp_path / "results")
    saved = json.loads((tmp_path / "results" / "regimes" / "grid.json").read_text())
    assert all(tuple(run["labels"]) == AXES for run in saved)
    data = data_of(tmp_path)
    assert data.factors == ("regime", "optimizer", "activation", "regularization")
    titles = [t for t, _ in panels(curves(data).figures["curves_mnist.png"])]
    assert titles == [
        "short: by optimizer",
        "short: by activation",
        "long: by optimizer",
        "long: by activation",
        "long: by regularization",
    ]
    heatmaps = [t for t, _ in panels(interactions(data).figures["interactions_mnist.png"])]
    assert heatmaps == [
        "short: optimizer x activation",
        "long: optimizer x activation",
        "long: optimizer x regularization",
        "long: activation x regularization",
    ]


def test_no_figure_pools_regimes(tmp_path):
    """Each panel's numbers come from one regime: curves and heatmaps of the short regime stay
    near 50%, the long regime's near 90%; the IQM table has each regime's own rows."""
    regime_grid(tmp_path / "results")
    data = data_of(tmp_path)
    near = {"short": (40, 60), "long": (85, 100)}
    drawn = [
        *panels(curves(data).figures["curves_mnist.png"]),
        *panels(interactions(data).figures["interactions_mnist.png"]),
    ]
    assert len(drawn) == 9
    for title, ax in drawn:
        low, high = near[title.split(":")[0]]
        values = np.concatenate(
            [
                *(line.get_ydata() for line in ax.lines),
                *(image.get_array().compressed() for image in ax.images),
            ]
        )
        assert values.size and low <= values.min() and values.max() <= high, title
    section = distributions(data)
    table = section.markdown.split("| regime")[1]
    rows = [line.split("|") for line in table.splitlines()[2:] if line.startswith("|")]
    assert {r[1].strip() for r in rows} == {"short", "long"}
    for r in rows:
        low, high = near[r[1].strip()]
        assert low <= float(r[4]) <= high
    profile = panels(section.figures["profiles_mnist.png"])
    assert [t.split(":")[0] for t, _ in profile] == ["short"] * 2 + ["long"] * 3
    for title, ax in profile:  # each regime's profile spans its own accuracies
        low, high = near[title.split(":")[0]]
        assert all(
            low - 1 <= x.min() and x.max() <= high for x in (line.get_xdata() for line in ax.lines)
        ), title


def test_a_run_shared_by_two_regimes_is_counted_once(tmp_path):
    regime_grid(tmp_path / "results", shared=True)
    data = data_of(tmp_path)
    assert len(data.df) == 36 and len(data.unique) == 33
    header = render(tmp_path).split("## Summary")[0]
    assert (
        "**Runs:** 33 (33 ok, 0 diverged, 0 error, 0 pending; grid.json lists 36 "
        "entries: 3 runs serve more than one regime" in header
    )
    assert "33.0 min of worker time" in header  # 60 s per run, each run once
    long = data.importance["long", "mnist"]
    assert long.factors == ("optimizer", "activation", "regularization")
    assert long.balance.balanced and long.balance.runs_min == 3  # the shared runs once each
    assert set(data.importance) == {("short", "mnist"), ("long", "mnist")}
    # ...and the shared runs still pair within both regimes' contrasts
    family = data.contrasts
    assert set(family.loc[family["factor"] == "optimizer", "regime"]) == {"short", "long"}


def test_the_decomposition_is_exact_only_where_balanced_and_never_negative(tmp_path):
    regime_grid(
        tmp_path / "results",
        drop=[
            ("long", "sgd", "relu", "dropout", 0),
            *(("short", "adam", "relu", "none", s) for s in range(3)),
        ],
    )
    data = data_of(tmp_path)
    text = render(tmp_path)
    importance = text.split("## Factor importance")[1].split("## Baselines")[0]
    assert "mnist: 1 of 4 cells without a finished run: not decomposed" in importance
    assert "on mnist 1 of 4 cells without a finished run: not decomposed" in text
    assert (
        "mnist: unbalanced (2 to 3 runs in each of 8 cells): unweighted means, an "
        "approximation" in importance
    )
    assert data.importance["short", "mnist"].shares == {}
    shares = data.importance["long", "mnist"].shares
    assert sum(v[0] for v in shares.values()) == pytest.approx(1.0)
    assert all(v[0] >= 0 and v[1] >= 0 for v in shares.values())
    findings = text.split("Findings, each with the test behind it:")[1]
    assert re.search(
        r"\*\*Factor importance\*\*, long regime \(over optimizer, activation, "
        r"regularization; the largest point share, a ranking, not a test; 95% CI\):"
        r" `optimizer` on mnist, \d+% \[\d+, \d+\] \(approximate: unbalanced\)",
        findings,
    )
    assert "on average over datasets" not in text


def test_time_to_target_is_a_test_and_ties_are_said_as_ties(tmp_path):
    regime_grid(tmp_path / "results")
    text = render(tmp_path)
    findings = text.split("Findings, each with the test behind it:")[1].split("\n## ")[0]
    # adam was planted faster in both regimes, in epochs and seconds
    assert re.search(
        r"\*\*Time to the validation target\*\*, long regime \(Kruskal-Wallis "
        r"across a factor's levels, a test of location by ranks, Holm over the report's 10 "
        r"such tests; medians, "
        r"a miss counted as never\): mnist optimizer, epochs: `adam` lowest at 1 "
        r"epoch \(others 3 epochs\), Holm p (< 1e-06|= \d\.\de-0\d|= 0\.0\d+)",
        findings,
    )
    assert "Fastest" not in text
    # no other factor's levels differ: activation and regularization tie in every run
    assert findings.count("no other factor's levels differ") == 2
    table = text.split("### Time to target")[1].split("## ")[0]
    assert re.search(r"\| long +\| mnist +\| adam +\| 100% +\| 1 epoch +\| 10\.0 s ", table)


def test_one_cell_renders_without_figures_by_level(tmp_path):
    """A grid of one configuration: nothing varies, so no panels, no decomposition, no crash."""
    grid = Grid(tmp_path / "results", "cell")
    for seed in range(3):
        labels = {"dataset": "mnist", "optimizer": "adam", "seed": str(seed)}
        grid.record(
            f"cell-{seed}",
            labels,
            {"dataset": "mnist", "seed": seed, "lr": 0.1, "optimizer": "adam", "epochs": 3},
            0.9,
        )
    grid.save()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render(tmp_path, "cell")
    assert "## Summary" in text and "## Learning curves" not in text
    assert "## Interactions" not in text and "## Factor importance" not in text


def lr_frame(rows):
    return pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "optimizer",
            "activation",
            "regularization",
            "lr",
            "status",
            "final_val_acc",
        ],
    )


def test_the_shared_lr_check_selects_as_the_tuner_does():
    """none selects 0.1; dropout would select 0.3 (0.5 points better), l2 ties 0.1 and 0.3
    (the earlier wins), augment's best lr diverged at 1.0 (scores 0)."""
    vals = {
        "none": [0.90, 0.95, 0.94, 0.5],
        "dropout": [0.90, 0.93, 0.935, 0.5],
        "l2": [0.90, 0.95, 0.95, 0.5],
        "augment": [0.90, 0.92, 0.91, None],
    }
    frame = lr_frame(
        [
            ("mnist", "sgd", "relu", reg, lr, "ok" if v is not None else "diverged", v)
            for reg, values in vals.items()
            for lr, v in zip([0.03, 0.1, 0.3, 1.0], values)
        ]
    )
    check = diagnostics.lr_by_regularizer(frame).set_index("regularization")
    assert list(check.index) == ["dropout", "l2", "augment"]
    assert (check.loc["dropout", "shared"], check.loc["dropout", "own"]) == (0.1, 0.3)
    assert check.loc["dropout", "cost_pts"] == pytest.approx(0.5)
    assert not check.loc["l2", "changed"] and check.loc["l2", "own"] == 0.1
    assert not check.loc["augment", "changed"] and check.loc["augment", "cost_pts"] == 0


def test_the_report_says_how_many_selections_the_shared_lr_changes(tmp_path):
    grid = Grid(tmp_path / "results", "lr_check")
    own = ReportNeeds(lr_sharing="lr_check")  # the grid's report reads its own runs
    scores = {"none": {0.01: 0.95, 0.1: 0.97}, "dropout": {0.01: 0.96, 0.1: 0.955}}
    for reg, by_lr in scores.items():
        for lr, acc in by_lr.items():
            labels = {
                "dataset": "mnist",
                "optimizer": "sgd",
                "lr": str(lr),
                "activation": "relu",
                "regularization": reg,
                "seed": "1000",
            }
            grid.record(
                f"{reg}-{lr}",
                labels,
                {
                    "dataset": "mnist",
                    "seed": 1000,
                    "lr": lr,
                    "optimizer": "sgd",
                    "activation": "relu",
                    "epochs": 3,
                },
                acc,
                jitter=0.0,
            )
    grid.save()
    data = data_of(tmp_path, "lr_check", own)
    check = shared_lr_check(data)
    assert len(check) == 1 and check["changed"].all()
    assert check["cost_pts"].iloc[0] == pytest.approx(0.5)
    assert "Does the shared lr" not in render(tmp_path, "lr_check")  # not declared: not drawn
    text = render(tmp_path, "lr_check", own)
    assert (
        "**On this subset, 1 of 1 selections change when the lr is tuned for each "
        "regularizer instead of shared from the unregularized runs (1 of the 1 could only "
        "move down: every larger lr diverged for that regularizer); where it changes, the "
        "shared lr costs 0.50 points of validation accuracy on average (own best minus "
        "shared: mnist sgd dropout +0.50)" in text
    )


def test_factors_the_grid_does_not_cross_are_not_decomposed(tmp_path):
    """An lr axis with other values per optimizer (as lr_search): lr is nested in optimizer,
    so optimizer x lr is no factorial and no share is printed."""
    grid = Grid(tmp_path / "results", "nested")
    for opt, lrs in {"sgd": [0.1, 0.3], "adam": [1e-3, 3e-3]}.items():
        for lr in lrs:
            for seed in range(2):
                labels = {"dataset": "mnist", "optimizer": opt, "lr": str(lr), "seed": str(seed)}
                grid.record(
                    f"{opt}-{lr}-{seed}",
                    labels,
                    {"dataset": "mnist", "seed": seed, "optimizer": opt, "lr": lr},
                    0.9,
                )
    grid.save()
    text = render(tmp_path, "nested")
    assert (
        "on mnist the grid does not cross these factors fully, 4 of 8 combinations: not "
        "decomposed" in text
    )
    assert "| optimizer x lr" not in text


@pytest.mark.parametrize(
    "seeds,drop", [((0,), ()), (range(3), [("long", "adam", "tanh", "dropout", 1)])]
)
def test_a_regime_grid_renders_with_one_seed_or_a_missing_run(tmp_path, seeds, drop):
    regime_grid(tmp_path / "results", seeds=seeds, drop=drop)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        text = render(tmp_path)
    assert "nan" not in text and "## Learning curves" in text and "## Interactions" in text
    assert render(tmp_path) == text
