"""The showcase's wall-time estimate: per-run seconds from measured rates, and the run count of
a tuned grid counted in full before any result exists."""
import pytest

from ablations.budget import (SPLIT_RELOAD_S, Rates, estimate, full_plan_runs, measured_rates,
                              run_seconds)
from ablations.config import resolve

RATES = Rates(train_s=1.2, eval_s=0.08, overhead_s=0.2, n_records=1)
REFERENCE = {"dataset": "mnist", "hidden": [256, 128], "epochs": 6}


def test_reference_run_by_hand():
    assert run_seconds(resolve(REFERENCE), RATES) == pytest.approx(
        0.2 + SPLIT_RELOAD_S + 0.08 + 6 * (1.2 + 0.08))


def test_a_tenth_of_the_data_trains_a_tenth_as_long():
    full = run_seconds(resolve(REFERENCE), RATES)
    small = run_seconds(resolve({**REFERENCE, "train_size": 5_000}), RATES)
    assert full - small == pytest.approx(6 * 1.2 * 0.9)


def test_measured_rates_are_medians_of_reference_records():
    config = resolve(REFERENCE)
    records = [{"status": "ok", "config": config, "train_time_s": 6 * t, "eval_time_s": 0.6,
                "wall_time_s": 6 * t + 0.6 + 0.3, "epochs_run": 6} for t in (1.0, 1.1, 1.5)]
    records.append({**records[0], "config": resolve({**REFERENCE, "hidden": [64]})})
    rates = measured_rates(records)
    assert rates.n_records == 3 and rates.train_s == pytest.approx(1.1)
    assert rates.eval_s == pytest.approx(0.1) and rates.overhead_s == pytest.approx(0.3)


def test_a_tuned_grid_is_counted_with_every_rung_and_final():
    blocks = [{"base": {"dataset": "digits", "epochs": 4},
               "axes": {"optimizer": [{"optimizer": "sgd", "tune": {"lr": [0.01, 0.1, 1.0, 3.0]}}],
                        "seed": [0, 1, 2]},
               "tune": {"seeds": [9], "halving": {"epochs": [1, 4], "keep": 0.5}}}]
    runs = full_plan_runs("g", blocks)
    assert len(runs) == 4 + 2 + 3  # rung 0, rung 1, finals
    rows, minutes = estimate({"g": blocks}, RATES, workers=1)
    assert rows[0][1] == 9 and minutes == pytest.approx(rows[0][2] / 60)
