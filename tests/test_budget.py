"""The showcase's wall-time estimate: per-run seconds from measured rates, and the run count of
a tuned grid counted in full before any result exists."""

from pathlib import Path

import pytest
from helpers import synthetic_record

from ablations.run.budget import (
    REFERENCE_RATES,
    REFERENCE_WEIGHTS,
    RUN_FLOOR_S,
    SPLIT_RELOAD_S,
    Rates,
    estimate,
    full_plan_runs,
    measured_rates,
    plan_costs,
    run_seconds,
)
from ablations.grid.config import resolve
from ablations.records.store import SCHEMA_VERSION, read_records

RATES = Rates(train_s=1.2, eval_s=0.08, overhead_s=0.2, n_records=1)
REFERENCE = {"dataset": "mnist", "hidden": [256, 128], "epochs": 6}


def test_reference_run_by_hand():
    assert run_seconds(resolve(REFERENCE), RATES) == pytest.approx(
        0.2 + SPLIT_RELOAD_S + 0.08 + 6 * (1.2 + 0.08)
    )


def test_a_tenth_of_the_data_trains_a_tenth_as_long():
    full = run_seconds(resolve(REFERENCE), RATES)
    small = run_seconds(resolve({**REFERENCE, "train_size": 5_000}), RATES)
    shrunk = 45_000 / 60_000  # of the training and validation rows
    assert full - small == pytest.approx(
        6 * 1.2 * 0.9 + (0.2 - RUN_FLOOR_S) * shrunk + SPLIT_RELOAD_S * shrunk
    )


def test_a_small_net_on_a_small_user_dataset_is_estimated_from_its_rows_and_weights(
    tmp_path, data_dir
):
    """The estimate of 64-32-10 on 200 rows of 30 features: every term scaled from the
    reference run by rows x weights (pixels for the reload), not the reference's 50,000 rows."""
    from test_user_datasets import arrays, save_npz
    from ablations.data.datasets import DATASETS
    from ablations.data.user_datasets import array_dataset

    sha = save_npz(tmp_path / "flat.npz", arrays(n_train=240, shape=(30,)))
    array_dataset("budget_flat", tmp_path / "flat.npz", sha, val_size=40).fetch(data_dir)
    try:
        config = resolve({"dataset": "budget_flat", "hidden": [64, 32], "epochs": 10})
        weights = (30 * 64 + 64 * 32 + 32 * 3) / REFERENCE_WEIGHTS
        rows = 240 / 60_000
        expected = (
            RUN_FLOOR_S
            + (0.2 - RUN_FLOOR_S) * rows * weights
            + SPLIT_RELOAD_S * 240 * 30 / (60_000 * 784)
            + 0.08 * weights
            + 10 * (200 / 50_000 * 1.2 + 40 / 10_000 * 0.08) * weights
        )
        assert run_seconds(config, RATES, data_dir) == pytest.approx(expected)
        assert run_seconds(config, RATES, data_dir) < 0.1  # the reference run: 8.7 s
    finally:
        DATASETS.pop("budget_flat")


def test_measured_rates_are_medians_of_reference_records():
    config = resolve(REFERENCE)
    records = [
        synthetic_record(
            config=config,
            train_time_s=6 * t,
            eval_time_s=0.6,
            wall_time_s=6 * t + 0.6 + 0.3,
            epochs_run=6,
        )
        for t in (1.0, 1.1, 1.5)
    ]
    records.append({**records[0], "config": resolve({**REFERENCE, "hidden": [64]})})
    rates = measured_rates(records)
    assert rates.n_records == 3 and rates.train_s == pytest.approx(1.1)
    assert rates.eval_s == pytest.approx(0.1) and rates.overhead_s == pytest.approx(0.3)


def test_a_tuned_grid_is_counted_with_every_rung_and_final():
    blocks = [
        {
            "base": {"dataset": "digits", "epochs": 4},
            "axes": {
                "optimizer": [{"optimizer": "sgd", "tune": {"lr": [0.01, 0.1, 1.0, 3.0]}}],
                "seed": [0, 1, 2],
            },
            "tune": {"seeds": [9], "halving": {"epochs": [1, 4], "keep": 0.5}},
        }
    ]
    runs = full_plan_runs("g", blocks)
    assert len(runs) == 4 + 2 + 3  # rung 0, rung 1, finals
    rows, minutes = estimate({"g": blocks}, RATES, workers=1)
    assert rows[0][1] == 9 and minutes == pytest.approx(rows[0][2] / 60)


def test_the_frozen_reference_rates_are_the_committed_records_rates():
    folder = Path(__file__).resolve().parents[1] / "results" / "default"
    rates = measured_rates(read_records(folder, log=lambda line: None, set_aside=False).values())
    assert rates.n_records == REFERENCE_RATES.n_records
    assert (round(rates.train_s, 3), round(rates.eval_s, 3), round(rates.overhead_s, 2)) == (
        REFERENCE_RATES.train_s,
        REFERENCE_RATES.eval_s,
        REFERENCE_RATES.overhead_s,
    )


def test_a_plan_counts_what_is_done_and_what_is_left():
    blocks = [{"base": {"dataset": "digits", "epochs": 3}, "axes": {"seed": [0, 1, 2]}}]
    runs = full_plan_runs("g", blocks)
    done = {runs[0].run_id: {"schema": SCHEMA_VERSION, "status": "ok"}}
    [cost] = plan_costs({"g": blocks}, {"g": done}, RATES)
    assert (len(cost.runs), len(cost.to_train), cost.phases) == (3, 2, 1)
    assert cost.seconds == pytest.approx(2 * run_seconds(runs[1].config, RATES))
    [forced] = plan_costs({"g": blocks}, {"g": done}, RATES, force=True)
    assert len(forced.to_train) == 3
    [only] = plan_costs({"g": blocks}, {"g": done}, RATES, only="seed=2")
    assert [r.config["seed"] for r in only.to_train] == [2]
    [finished] = plan_costs(
        {"g": blocks}, {"g": {r.run_id: done[runs[0].run_id] for r in runs}}, RATES
    )
    assert (finished.to_train, finished.phases, finished.seconds) == ([], 0, 0.0)
