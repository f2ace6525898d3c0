"""The replay of the sequential design on the committed results/default records (issue 29's
replay test; studies/replay.py, training nothing): each of the default grid's 10 non-baseline
levels in turn as the new entry, 40 seeded seed and cell orders per level, 2 workers, each run
costing its recorded wall_time_s, the sequential design's tuning a hill climb. The decisions are
the waves engine's (analysis/sequential_design.py), checked against its own wave-by-wave loop.
About 25 s (loading the records and the report's family of contrasts is most of it)."""

import numpy as np
import pytest

from ablations.analysis import sequential_design as sd
from studies.replay import SequentialReplay, summary

ORDERS = 40


@pytest.fixture(scope="module")
def replay():
    return SequentialReplay()


@pytest.fixture(scope="module")
def figures(replay):
    """summary() of every level x order, with the engine's rule for the cells a test needs and
    with a change needing only its matched cells."""
    out = {}
    for needs in ("engine", "used"):
        replays = [
            replay.replay(factor, level, order, workers=2, needs=needs)
            for factor, level in replay.levels
            for order in range(ORDERS)
        ]
        out[needs] = summary(replays)
        print(f"\nsequential replay ({needs} needs): {out[needs]}")
    return out


@pytest.mark.parametrize("order", [0, 7])
def test_sequential_replay_decisions_are_the_engines(replay, order):
    """The replay's one family_looks call per order on the full records gives the decisions and
    closing waves of the engine's own loop (sequential_state) on the same records."""
    state = sd.sequential_state(replay.data, replay.order_waves(order), replay.waves)
    decisions, closed = replay.decisions(order)
    assert [t.decision for t in state.tests] == decisions
    assert [t.closed_wave for t in state.tests] == closed.tolist()
    assert len(decisions) == 60 and replay.waves == 9  # 40 contrasts and 20 changes; 10 seeds


def test_sequential_replay_agrees_with_the_full_design(figures):
    """The issue's bar: at least 95% of contrast verdicts the same (category and sign), every
    level at least 90%, changes at least 95%. Measured: 1593 of 1600 (99.56%), the lowest level
    regularization=dropout at 95.6%, 800 of 800 changes."""
    found = figures["engine"]
    assert found["replays"] == 10 * ORDERS
    assert found["contrasts"] == 1600 and found["changes"] == 800
    assert found["contrasts_same"] >= 0.95
    assert found["level_min_same"] >= 0.90
    assert found["changes_same"] >= 0.95


def test_sequential_replay_wall_time(figures):
    """The issue's bar is a simulated 2-worker wall at most 0.7x the full design's; the engine
    as committed does not meet it. Measured (minutes, mean over 400 replays): full design 18.96,
    sequential 17.75 (0.936x, p90 22.15), 214 runs of 234, first verdict at 9.35 min (median
    8.81). Most of the gap: a change's needed cells are every cell of both its contrasts (in
    the tuned regime every regularizer), though it pairs only the cells both regimes have;
    needing only those ("used") gives 0.817x (184 runs, p90 18.54). The rest is the wave 1
    the first look waits for (every tuning run and 2 of 5 seeds of every cell) and the
    barrier between waves (a wave of tuned_long's 20-epoch runs leaves a worker idle)."""
    engine, used = figures["engine"], figures["used"]
    assert engine["runs_sequential"] < engine["runs_full"] == 234
    assert engine["wall_ratio"] < 0.95  # the bar would be 0.7: see the docstring
    assert used["wall_ratio"] < 0.83 and used["runs_sequential"] < engine["runs_sequential"]
    assert used["contrasts_same"] == engine["contrasts_same"]  # the same decisions
    assert np.isfinite(engine["first_verdict_min"]) and engine["wall_sequential_p90_min"] > 0
