"""The sequential design's decision engine (ablations/analysis/sequential_design.py) on synthetic
records: the family is the report's, the last look's test is the report's test, a planted effect
far above the MDE is decided at wave 1, a planted null is decided in at most alpha of seeded
grids, a closed test frees its cells, a missing run holds the look, and the look log's p* is
recomputed from its p and pi bit for bit. The grid's design key (grid/design.py) is checked here
too. Every name contains `sequential`; each test takes well under a second or two."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ablations.analysis import sequential_design as sd
from ablations.analysis.report.frame import ReportData
from ablations.grid.config import GridError
from ablations.grid.design import grid_seeds, parse_design, seed_waves

SEEDS = [0, 1, 2, 3, 4, 5]


def synthetic_data(
    effects, seeds=SEEDS, regimes=None, noise=0.01, rng=None, drop=(), activations=("relu", "tanh")
):
    """ReportData of one dataset, optimizer {sgd, *effects} x activation {relu, tanh} (x regime
    where `regimes` is given) x `seeds`: test accuracy 0.9 + the optimizer's effect (fraction;
    `effects` {level: effect}, or {(regime, level): effect}) + N(0, noise) per run, a run
    id per run; `drop`: run ids left pending (no record)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for regime in regimes or [None]:
        for optimizer in [
            "sgd",
            *dict.fromkeys(k[1] if isinstance(k, tuple) else k for k in effects),
        ]:
            for activation in activations:
                for seed in seeds:
                    effect = effects.get((regime, optimizer), effects.get(optimizer, 0.0))
                    rid = f"{regime}-{optimizer}-{activation}-{seed}"
                    rows.append(
                        {
                            "run_id": rid,
                            "dataset": "digits",
                            "seed": seed,
                            **({"regime": regime} if regimes else {}),
                            "optimizer": optimizer,
                            "activation": activation,
                            "status": "pending" if rid in drop else "ok",
                            "test_acc": np.nan
                            if rid in drop
                            else 0.9 + effect + rng.normal(0, noise),
                            "s_per_epoch": 1.0,
                        }
                    )
    df = pd.DataFrame(rows)
    factors = (*(["regime"] if regimes else []), "optimizer", "activation")
    return ReportData("synthetic", df, factors, {}, {}, Path("."), Path("."))


def state_of(data, waves=5):
    return sd.sequential_state(data, seed_waves(SEEDS, waves), waves)


def test_sequential_planted_effect_is_decided_at_wave_one():
    # 5 and -5 points against seed noise of 0.02: far above wave 1's MDE (2 cells of 2 seeds:
    # Welch df near 1, so the MDE is about 100 x the noise)
    data = synthetic_data({"adam": 0.05, "rmsprop": -0.05, "same": 0.0}, noise=0.0002)
    state = state_of(data)
    by_level = {t.key[5]: t for t in state.tests}
    assert by_level["adam"].decision == sd.BEATS and by_level["adam"].closed_wave == 1
    assert by_level["rmsprop"].decision == sd.TRAILS and by_level["rmsprop"].closed_wave == 1
    assert len(by_level["adam"].looks) == 1 and by_level["adam"].looks[0].decision == "decided"
    assert by_level["same"].decision in (sd.NOT_DISTINGUISHABLE, sd.FUTILITY)


def test_sequential_last_look_is_the_reports_test():
    """The family is the report's (contrast_family's rows, in order) and each test on every seed
    is the report's over-these-settings test, to the bit."""
    from ablations.analysis.report.contrasts import contrast_family

    data = synthetic_data({"adam": 0.002, "rmsprop": 0.0}, regimes=["defaults", "tuned"])
    tests, family = sd.family_tests(data), contrast_family(data)
    assert len(tests) == len(family)
    wave_of = seed_waves(SEEDS, 5)
    for test, (_, row) in zip(tests, family.iterrows()):
        expected = tuple(None if pd.isna(row[f]) else row[f] for f in sd.KEY_FIELDS)
        assert test.key == expected
        delta, se, df, p, pairs = test.at_wave(wave_of, 5)
        assert (delta, se, df, p, pairs) == (
            row["delta"],
            row["se"],
            row["df"],
            row["p"],
            row["pairs"],
        )
    assert {t.key[0] for t in tests} == {"contrast", "change"}


def test_sequential_planted_null_beats_in_at_most_alpha_of_grids():
    """100 seeded null grids of 3 contrasts each: the share where any test is decided (beats or
    trails) is at most alpha + 2 SE (Holm's family-wise error), so "beats" alone is rarer."""
    rng = np.random.default_rng(20261207)
    grids, any_decided, beats = 100, 0, 0
    for _ in range(grids):
        state = state_of(synthetic_data({"a": 0.0, "b": 0.0, "c": 0.0}, rng=rng))
        decisions = [t.decision for t in state.tests]
        any_decided += any(d in (sd.BEATS, sd.TRAILS) for d in decisions)
        beats += any(d == sd.BEATS for d in decisions)
    bound = 0.05 + 2 * math.sqrt(0.05 * 0.95 / grids)
    assert beats / grids <= any_decided / grids <= bound


def test_sequential_missing_run_holds_the_look_and_closed_tests_free_their_cells():
    # adam far ahead (decided at wave 1); "near" a small effect that stays open; a run of
    # near's wave 2 missing: look 2 waits for it, and only open tests' cells are needed
    grid = dict(effects={"adam": 0.05, "near": 0.0004}, noise=0.0002, activations=["relu"])
    state = state_of(synthetic_data(**grid, drop={"None-near-relu-2"}))
    assert state.wave == 1
    assert state.waiting == ("None-near-relu-2",)
    open_levels = {t.key[5] for t in state.tests if t.decision == sd.UNDECIDED}
    assert open_levels == {"near"}
    assert state.needs == {"None-sgd-relu-2", "None-near-relu-2"}  # near's pairs of wave 2
    # the same records with the run in: the look moves on, and the first look is the same
    # (adam's later seeds, there or not, do not change its decision)
    full = state_of(synthetic_data(**grid))
    assert full.wave >= 2
    assert [t.looks[0] for t in full.tests] == [t.looks[0] for t in state.tests]


def test_sequential_log_recomputes_p_star_bit_for_bit():
    state = state_of(
        synthetic_data({"adam": 0.004, "b": 0.0, "c": -0.003}, rng=np.random.default_rng(3))
    )
    log = json.loads(json.dumps(state.log()))
    assert log["wave"] == state.wave and len(log["tests"]) == len(state.tests)
    for entry in log["tests"]:
        assert [look["p_star"] for look in entry["looks"]] == sd.recompute_p_star(entry["looks"])
    for entry in log["tests"]:  # each test spends its whole alpha over its looks
        assert sum(entry["pi"]) == pytest.approx(1.0)


def test_sequential_nothing_trained_is_wave_zero():
    data = synthetic_data({"adam": 0.05}, drop={"None-sgd-relu-0"})
    state = state_of(data)
    assert state.wave == 0 and state.waiting == ("None-sgd-relu-0",)
    assert all(t.decision == sd.UNDECIDED and not t.looks for t in state.tests)


# ---- the grid's design key ------------------------------------------------------------------


def blocks(design=None, seeds=SEEDS):
    block = {"base": {"dataset": "digits"}, "axes": {"optimizer": ["sgd"], "seed": seeds}}
    return [{**block, **({"design": design} if design is not None else {})}]


def test_sequential_design_key_parses_with_defaults():
    assert not parse_design("g", blocks()).sequential
    design = parse_design("g", blocks("sequential"))
    assert design.sequential and design.waves == len(SEEDS) - 1 and design.alpha == 0.05
    assert parse_design("g", blocks({"kind": "sequential", "waves": 3})).waves == 3
    assert parse_design("g", blocks(), chosen="sequential").waves == len(SEEDS) - 1
    assert not parse_design("g", blocks("sequential"), chosen="full").sequential
    assert grid_seeds(blocks()) == SEEDS
    assert seed_waves(SEEDS, 5) == {0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}


@pytest.mark.parametrize(
    "design, words",
    [
        ("sequentail", "unknown design 'sequentail'; did you mean 'sequential'?"),
        ({"kind": "sequential", "waves": 6}, "design waves must be an integer from 1 to 5"),
        ({"kind": "sequential", "waves": True}, "design waves must be an integer"),
        ({"kind": "sequential", "alpha": 0.7}, "design alpha must be a number in (0, 0.5)"),
        ({"kind": "sequential", "wave": 2}, "unknown design key 'wave'; did you mean 'waves'?"),
        (3, "design must be 'full' or 'sequential' or a dict"),
    ],
)
def test_sequential_design_key_bad_values_name_the_choices(design, words):
    with pytest.raises(GridError, match=None) as err:
        parse_design("g", blocks(design))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_sequential_design_needs_two_seeds():
    with pytest.raises(GridError, match="needs 2 final seeds or more"):
        parse_design("g", blocks("sequential", seeds=[0]))


def test_sequential_error_run_is_retrained_before_the_look():
    data = synthetic_data({"adam": 0.05})
    data.df.loc[data.df["run_id"] == "None-sgd-relu-0", "status"] = "error"
    state = state_of(data)
    assert state.wave == 0 and state.waiting == ("None-sgd-relu-0",)


def test_sequential_report_section_recomputes_every_p_star(tmp_path):
    from dataclasses import replace

    from ablations.analysis.report.sequential_section import sequential_looks
    from ablations.records.store import SEQUENTIAL_FILE

    data = replace(
        synthetic_data({"adam": 0.05, "b": 0.0}, noise=0.0002, activations=["relu"]),
        results_dir=tmp_path,
    )
    assert sequential_looks(data).markdown == ""  # no look log: no section
    from ablations.analysis.report.sequential_section import UNDECIDED

    assert UNDECIDED == sd.UNDECIDED
    state = state_of(data)
    (tmp_path / "synthetic").mkdir()
    path = tmp_path / "synthetic" / SEQUENTIAL_FILE
    path.write_text(json.dumps(state.log()))
    text = sequential_looks(data).markdown
    assert "equals the logged one to the bit" in text
    assert "| contrast: optimizer adam vs sgd (digits) | beats" in text
    assert "decided at wave 1 of 5 (" in text
    assert f"{state.finished} of {state.planned} runs trained" in text
    tampered = state.log()
    tampered["tests"][0]["looks"][0]["p_star"] *= 1 + 1e-15
    path.write_text(json.dumps(tampered))
    assert "1 logged p* differ from their p and pi" in sequential_looks(data).markdown


def test_sequential_new_levels_verdict_rows():
    """A session that added a level ends with that level's rows (waves.new_level_verdicts'
    parts): from the looks for a sequential grid, from the report's family for a full one; a
    grid with no records before adds nothing."""
    from ablations.analysis.report.contrasts import contrast_family
    from ablations.waves import added_levels, full_verdict_lines, sequential_verdict_lines

    data = synthetic_data({"adam": 0.05, "b": 0.0}, noise=0.0002, activations=["relu"])
    grid = {("optimizer", lv) for lv in ("sgd", "adam", "b")}
    assert added_levels(set(), grid) == set()
    added = added_levels({("optimizer", "sgd"), ("optimizer", "b")}, grid)
    assert added == {("optimizer", "adam")}
    rows = sequential_verdict_lines(state_of(data), added)
    assert rows[0].startswith("  contrast: optimizer adam vs sgd (digits): beats (+")
    assert rows[0].endswith("decided at wave 1 of 5") and len(rows) == 2
    full = full_verdict_lines(contrast_family(data), added)
    assert len(full) == 1 and full[0].startswith("  contrast: optimizer adam vs sgd (digits): ")


def test_sequential_a_test_closes_at_its_own_final_look():
    """A regime with 3 of the design's 6 seeds: its contrast and the change to the 6-seed regime
    (matched seeds 0-2) reach their full information at wave 2 of 5 and close there, spending
    their whole alpha by then (or stop for futility at wave 1); the 6-seed regime's contrasts go
    on (here activation's), and wave 3 needs only their runs (the changes pair nothing past
    seed 2)."""
    short = synthetic_data({"near": 0.0}, seeds=[0, 1, 2], regimes=["short"], noise=0.01)
    long = synthetic_data({"near": 0.0}, regimes=["long"], noise=0.01, drop={"long-near-relu-3"})
    df = pd.concat([short.df, long.df], ignore_index=True)
    data = ReportData("synthetic", df, short.factors, {}, {}, Path("."), Path("."))
    state = state_of(data)
    by_name = {t.name: t for t in state.tests}
    short_test = by_name["contrast: optimizer near vs sgd (digits, short)"]
    change = by_name["change: optimizer near vs sgd (digits, short -> long)"]
    for test in (short_test, change):
        assert test.fractions[:2] == (2 / 3, 1.0) and sum(test.pi) == pytest.approx(1.0)
        assert test.closed_wave <= 2 and test.decision in (sd.NOT_DISTINGUISHABLE, sd.FUTILITY)
        assert test.looks[-1].waves == 2  # its final look, of the design's 5
        assert test.freed == test.runs * (2 - test.closed_wave) // 3
    assert change.runs == 3 * 2 * 4  # seeds 0-2, two activations, four runs per pair
    undecided = [t for t in state.tests if t.decision == sd.UNDECIDED]
    assert state.wave == 2 and undecided and all(t.key[2] == "long" for t in undecided)
    assert state.waiting == ("long-near-relu-3",)
    assert state.needs == {f"long-{o}-{a}-3" for o in ("sgd", "near") for a in ("relu", "tanh")}


@pytest.mark.parametrize(
    "effects, activations, first",
    [
        ({"adam": 0.0}, ("relu", "tanh", "elu"), "optimizer"),  # 3 x 2 pairs against 2 x 2
        ({"adam": 0.0, "rmsprop": 0.0}, ("relu", "tanh"), "activation"),  # 3 x 2 against 2 x 2
    ],
)
def test_sequential_first_wave_slices_most_pairs_first(effects, activations, first):
    """Wave 1 a test at a time: the test with the most wave-1 pairs first, each slice its
    test's wave-1 runs that no earlier slice holds, together every wave-1 run any test rests
    on, once."""
    data = synthetic_data(effects, activations=activations)
    wave_of = seed_waves(SEEDS, 5)
    tests = sd.family_tests(data)
    slices = sd.first_wave_slices(tests, wave_of)
    assert slices[0][0].key[4] == first
    pairs = [test.pairs_in_wave(wave_of, 1) for test, _ in slices]
    assert pairs == sorted(pairs, reverse=True) and pairs[0] == 6
    held = set()
    for test, runs in slices:
        assert runs and not runs & held
        held |= runs
        assert test.runs_in_wave(wave_of, 1) <= held
    wave_one = frozenset().union(*(t.runs_in_wave(wave_of, 1) for t in tests))
    assert held == wave_one and all(run.endswith(("-0", "-1")) for run in held)


def test_sequential_first_wave_slices_added_levels_first():
    """The tests of a level the session adds come before the others whatever their pairs: the
    activation contrast has 3 x 2 wave-1 pairs, rmsprop's 2 x 2, and rmsprop goes first."""
    data = synthetic_data({"adam": 0.0, "rmsprop": 0.0}, activations=("relu", "tanh"))
    wave_of = seed_waves(SEEDS, 5)
    tests = sd.family_tests(data)
    order = [t.key[4:6] for t, _ in sd.first_wave_slices(tests, wave_of)]
    assert order[0] == ("activation", "tanh")
    added = [
        t.key[4:6] for t, _ in sd.first_wave_slices(tests, wave_of, {("optimizer", "rmsprop")})
    ]
    assert added[0] == ("optimizer", "rmsprop") and added[1] == ("activation", "tanh")
