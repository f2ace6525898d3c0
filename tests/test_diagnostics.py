"""Diagnostics on synthetic records and tuning documents, with hand-checked answers."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_record

from ablations.analysis.diagnostics import (
    boundary_flags,
    diverged_share,
    generalization_gap,
    inclusion_check,
    lr_sensitivity,
    n_test_images,
    runs_frame,
    seed_variance_by_stream,
    time_to_target,
    trials_frame,
)
from ablations.analysis.stats.aggregates import binomial_se
from ablations.run.tuning import plan_grid

TEST = [[9_000, 0], [0, 1_000]]  # a confusion matrix of 10,000 test images


def run(run_id, labels, record=None, **config):
    return (
        {"run_id": run_id, "labels": labels, "config": config},
        None if record is None else synthetic_record(run_id, **record),
    )


def frame_of(pairs):
    runs = [r for r, _ in pairs]
    records = {r["run_id"]: rec for r, rec in pairs if rec is not None}
    return runs_frame(runs, records)


@pytest.fixture
def tuned():
    """A tuned grid over sgd and adam with made-up validation accuracies: sgd peaks at its
    highest lr (a boundary), adam in the middle; sgd's smallest lr diverged once."""
    blocks = [
        {
            "base": {"dataset": "digits", "epochs": 2},
            "axes": {
                "optimizer": [
                    {"optimizer": "sgd", "tune": {"lr": [0.01, 0.1, 1.0]}},
                    {"optimizer": "adam", "tune": {"lr": [1e-4, 1e-3, 1e-2]}},
                ],
                "seed": [0, 1],
            },
            "tune": {"seeds": [5, 6]},
        }
    ]
    plan = plan_grid("g", blocks)
    acc = {
        ("sgd", 0.01): 0.80,
        ("sgd", 0.1): 0.85,
        ("sgd", 1.0): 0.90,
        ("adam", 1e-4): 0.88,
        ("adam", 1e-3): 0.95,
        ("adam", 1e-2): 0.70,
    }
    records = {}
    for r in plan.tuning:
        key = (r.config["optimizer"], r.config["lr"])
        diverged = key == ("sgd", 0.01) and r.config["seed"] == 5
        records[r.run_id] = synthetic_record(
            r.run_id,
            "diverged" if diverged else "ok",
            final_val_acc=None if diverged else acc[key] + r.config["seed"] / 1000,
            best_val_acc=None,
            test_acc=0.0,
        )
    plan = plan_grid("g", blocks, records)
    tuning = {"cells": plan.cells}
    return tuning, records


def test_trials_frame_has_one_row_per_trial_run_and_no_test_field(tuned):
    tuning, records = tuned
    trials = trials_frame(tuning, records)
    assert len(trials) == 2 * 3 * 2 and "test_acc" not in trials.columns


def test_lr_sensitivity_means_finished_trials_and_counts_divergences(tuned):
    curve = lr_sensitivity(trials_frame(*tuned), by=("optimizer",))
    sgd = curve[curve["optimizer"] == "sgd"].set_index("lr")
    assert sgd.loc[0.01, "final_val_acc"] == pytest.approx(0.806)  # the seed-6 run only
    assert (sgd.loc[0.01, "n_ok"], sgd.loc[0.01, "n_diverged"]) == (1, 1)
    assert sgd.loc[1.0, "final_val_acc"] == pytest.approx(0.9055)
    assert list(sgd.index) == [0.01, 0.1, 1.0]


def test_boundary_flags_mark_a_winner_at_the_edge(tuned):
    flags = boundary_flags(tuned[0]).set_index("optimizer")
    assert flags.loc["sgd", "edge"] == "high" and flags.loc["sgd", "selected"] == 1.0
    assert flags.loc["adam", "edge"] == "inside" and flags.loc["adam", "selected"] == 1e-3
    assert list(flags["at_edge"]) == [True, False]


def test_diverged_share_per_optimizer(tuned):
    share = diverged_share(trials_frame(*tuned)).set_index("optimizer")
    assert share.loc["sgd", "share"] == pytest.approx(1 / 6)
    assert share.loc["adam", "share"] == 0


def inclusion_frame(momentum_acc):
    pairs = []
    for opt, acc in [("sgd", 0.95), ("momentum", momentum_acc), ("adam", 0.97)]:
        for seed in range(5):
            pairs.append(
                run(
                    f"{opt}{seed}",
                    {"regularization": "none"},
                    {"status": "ok", "test_acc": acc + 0.001 * (seed - 2), "test_confusion": TEST},
                    dataset="mnist",
                    optimizer=opt,
                    activation="relu",
                    seed=seed,
                )
            )
    return frame_of(pairs)


def test_inclusion_check_flags_a_violation_beyond_noise_only():
    fine = inclusion_check(inclusion_frame(0.96))
    assert not fine["violated"].any() and list(fine["lower"]) == ["sgd", "momentum"]
    broken = inclusion_check(inclusion_frame(0.93)).set_index("lower")
    assert broken.loc["sgd", "violated"] and not broken.loc["momentum", "violated"]
    assert broken.loc["sgd", "diff_pts"] == pytest.approx(-2.0)
    within = inclusion_check(inclusion_frame(0.9495))  # 0.05 points: inside the test set's SE
    assert not within["violated"].any()
    assert within["se_test_pts"].iloc[0] == pytest.approx(
        100 * math.hypot(binomial_se(0.9495, 10_000), binomial_se(0.95, 10_000))
    )


def test_the_test_set_size_comes_from_the_confusion_matrix():
    assert n_test_images({"test_confusion": TEST}) == 10_000
    assert math.isnan(n_test_images({}))  # a diverged run has no confusion matrix
    assert binomial_se(0.98, 10_000) == pytest.approx(0.0014, abs=1e-5)  # METHODOLOGY
    small = inclusion_frame(0.9495).assign(n_test=360)  # digits' test set: a wider SE
    assert inclusion_check(small)["se_test_pts"].iloc[0] == pytest.approx(
        100 * math.hypot(binomial_se(0.9495, 360), binomial_se(0.95, 360))
    )


def test_generalization_gap_of_the_unregularized_baseline():
    pairs = []
    for regime, train, val, losses in [
        ("full", 0.99, 0.98, [0.5, 0.3, 0.2]),
        ("small", 1.0, 0.95, [0.5, 0.2, 0.4]),
    ]:
        for reg in ["none", "dropout"]:
            for seed in range(2):
                pairs.append(
                    run(
                        f"{regime}{reg}{seed}",
                        {"regime": regime, "regularization": reg},
                        {
                            "status": "ok",
                            "train_acc": train,
                            "final_val_acc": val,
                            "history": {"val_loss": losses},
                        },
                        dataset="mnist",
                        seed=seed,
                    )
                )
    gap = generalization_gap(frame_of(pairs)).set_index("regime")
    assert gap.loc["full", "gap_pts"] == pytest.approx(1.0)
    assert gap.loc["small", "gap_pts"] == pytest.approx(5.0)
    assert gap.loc["full", "lowest_val_loss_at_last_epoch"] == 1.0
    assert gap.loc["small", "lowest_val_loss_at_last_epoch"] == 0.0
    assert (gap["n"] == 2).all()  # the dropout runs are not the baseline


def test_seed_variance_is_attributed_per_stream():
    pairs = []
    for seed in range(4):
        pairs.append(
            run(
                f"all{seed}",
                {"varied": "all", "value": str(seed)},
                {"status": "ok", "test_acc": 0.90 + 0.01 * seed, "test_confusion": TEST},
                dataset="mnist",
                seed=seed,
            )
        )
    for stream, values in [("init", [0.905, 0.895]), ("order", [0.90, 0.90])]:
        for v, acc in enumerate(values, 1):
            pairs.append(
                run(
                    f"{stream}{v}",
                    {"varied": stream, "value": str(v)},
                    {"status": "ok", "test_acc": acc, "test_confusion": TEST},
                    dataset="mnist",
                    seed=0,
                )
            )
    out = seed_variance_by_stream(frame_of(pairs)).set_index("source")
    assert out.loc["all", "n"] == 4
    assert out.loc["all", "std_pts"] == pytest.approx(
        100 * np.std([0.90, 0.91, 0.92, 0.93], ddof=1)
    )
    assert out.loc["init", "n"] == 3 and out.loc["init", "std_pts"] == pytest.approx(0.5)
    assert out.loc["order", "std_pts"] == pytest.approx(0.0)
    assert out.loc["order", "binomial_se_pts"] == pytest.approx(100 * binomial_se(0.90, 10_000))


def test_time_to_target_medians_with_misses_as_infinity():
    pairs = []
    for opt, seconds in [("adam", [4.0, 5.0, 6.0]), ("sgd", [10.0, None, None])]:
        for seed, s in enumerate(seconds):
            pairs.append(
                run(
                    f"{opt}{seed}",
                    {},
                    {
                        "status": "ok",
                        "seconds_to_target": s,
                        "epochs_to_target": None if s is None else 3,
                    },
                    optimizer=opt,
                    seed=seed,
                )
            )
    out = time_to_target(frame_of(pairs), budget_s=60.0).set_index("optimizer")
    assert out.loc["adam", "median_s"] == 5.0 and out.loc["adam", "within_budget"]
    assert math.isinf(out.loc["sgd", "median_s"]) and out.loc["sgd", "misses"] == 2
    assert not out.loc["sgd", "within_budget"]


def test_runs_without_records_are_pending():
    frame = frame_of([run("a", {"x": "1"}, None, dataset="mnist")])
    assert frame.loc[0, "status"] == "pending" and pd.isna(frame.loc[0, "test_acc"])


def test_regimes_are_kept_apart_in_the_inclusion_check_and_the_curves(tuned):
    """A second tuned regime with adam alone (e.g. a longer budget) must neither pair with the
    first regime's sgd and momentum nor mix its lr trials into the first regime's curves."""
    short = inclusion_frame(0.96).assign(regime="short")
    long = inclusion_frame(0.96).assign(regime="long")
    long = long[long["optimizer"] == "adam"].assign(test_acc=0.90)  # below momentum's 0.96
    check = inclusion_check(pd.concat([short, long], ignore_index=True))
    assert list(check["regime"]) == ["short", "short"] and not check["violated"].any()
    trials = trials_frame(*tuned)
    both = pd.concat(
        [trials.assign(regime="short"), trials.assign(regime="long", final_val_acc=0.5)],
        ignore_index=True,
    )
    curve = lr_sensitivity(both)
    short_sgd = curve[(curve["regime"] == "short") & (curve["optimizer"] == "sgd")]
    assert short_sgd.set_index("lr").loc[1.0, "final_val_acc"] == pytest.approx(0.9055)
    assert (curve[curve["regime"] == "long"]["final_val_acc"].dropna() == 0.5).all()
    share = diverged_share(both).set_index(["regime", "optimizer"])
    assert share.loc[("long", "sgd"), "n_trials"] == 6
