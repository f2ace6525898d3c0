"""The two questions of one contrast (ablations/stats/cells.py), by hand and against scipy."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ablations.analysis.stats.cells import (
    detectable_effect,
    exact_floor,
    t_power,
    two_questions,
    units_needed,
)


def test_both_questions_by_hand():
    # cells A: 1, 2, 3 (mean 2) and B: 4, 6 (mean 5); within SS 2 + 2 = 4 on 5 - 2 = 3 df
    result = two_questions([1.0, 2.0, 3.0, 4.0, 6.0], ["A", "A", "A", "B", "B"])
    assert (result.cells, result.pairs, result.df) == (2, 5, 3)
    assert result.delta == pytest.approx(3.5)  # equal weight per cell, not 16 / 5
    se = np.sqrt(4 / 3) * np.sqrt(1 / 3 + 1 / 2) / 2
    assert result.se == pytest.approx(se)
    assert result.p == pytest.approx(2 * scipy_stats.t.sf(3.5 / se, 3))
    half = scipy_stats.t.ppf(0.975, 3) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((3.5 - half, 3.5 + half))
    # across settings: t over the cell means 2 and 5, and the sign flip over them (2 of 4)
    across = scipy_stats.t.ppf(0.975, 1) * np.std([2, 5], ddof=1) / np.sqrt(2)
    assert (result.across_ci_low, result.across_ci_high) == pytest.approx(
        (3.5 - across, 3.5 + across)
    )
    assert result.across_p == pytest.approx(0.5) and result.across_p_floor == 0.5
    # heterogeneity: F = (3 (2 - 3.2)^2 + 2 (5 - 3.2)^2) / 1 / (4 / 3) on (1, 3) df
    assert result.heterogeneity_p == pytest.approx(scipy_stats.f.sf(10.8 / (4 / 3), 1, 3))
    # per cell: mean +- t_3 s_p / sqrt(n_c); only B's interval clears 0
    assert (result.cells_won, result.cells_lost) == (1, 0)
    label, n, mean, low, high = result.per_cell[1]
    assert (label, n, mean) == ("B", 2, 5.0)
    assert high - mean == pytest.approx(scipy_stats.t.ppf(0.975, 3) * np.sqrt(4 / 3 / 2))


def test_one_cell_is_the_one_sample_t_test():
    values = np.random.default_rng(0).normal(0.4, 1.0, 7)
    result = two_questions(values, [()] * 7)
    reference = scipy_stats.ttest_1samp(values, 0.0)
    assert result.p == pytest.approx(reference.pvalue)
    low, high = reference.confidence_interval()
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high))
    assert np.isnan(result.across_p) and np.isnan(result.heterogeneity_p)


def test_one_value_per_cell_leaves_only_the_across_question():
    result = two_questions([0.5, 0.7, 0.2, 0.9], ["a", "b", "c", "d"])
    assert result.df == 0 and np.isnan(result.se) and np.isnan(result.p)
    assert result.across_p == pytest.approx(2 / 16)  # all four positive: the floor
    assert np.isfinite(result.across_ci_low) and result.cells_won == 0


def test_no_noise_at_all_gives_a_definite_answer_not_nan():
    zero = two_questions([0.0] * 6, ["a"] * 3 + ["b"] * 3)  # e.g. runs shared by two regimes
    assert zero.p == 1.0 and zero.heterogeneity_p == 1.0 and zero.delta == 0.0


@pytest.mark.parametrize("df, alpha", [(4, 0.05), (80, 0.000625), (4, 0.000625), (1, 0.05)])
def test_the_mde_has_80_percent_power_by_the_noncentral_t(df, alpha):
    mde = detectable_effect(0.3, df, alpha)
    critical = scipy_stats.t.ppf(1 - alpha / 2, df)
    lower = np.nan_to_num(scipy_stats.nct.cdf(-critical, df, mde / 0.3))  # nan: underflow
    power = scipy_stats.nct.sf(critical, df, mde / 0.3) + lower
    assert power == pytest.approx(0.80, abs=1e-6)
    assert t_power(mde, 0.3, df, alpha) == pytest.approx(0.80, abs=1e-9)
    assert np.isnan(detectable_effect(0.3, 0, alpha)) and detectable_effect(0.0, 4, alpha) == 0


def test_the_mde_stays_finite_where_scipy_gives_nan_far_in_a_tail():
    """1 degree of freedom at the threshold of a 5,000-test family: noncentral t CDFs of nan."""
    mde = detectable_effect(1.0, 1, 1e-5)
    assert np.isfinite(mde) and t_power(mde, 1.0, 1, 1e-5) == pytest.approx(0.80, abs=1e-6)


def test_the_mde_is_detected_80_percent_of_the_time_by_simulation():
    """4 cells of 5 seeds, noise sd 0.3, threshold 0.001: at the MDE (from the true SE), the
    fixed-cells t-test rejects in 80% of 4000 simulated contrasts, within 3 simulation SEs."""
    rng = np.random.default_rng(7)
    cells, seeds, sd, alpha = 4, 5, 0.3, 0.001
    labels = np.repeat(np.arange(cells), seeds)
    se = sd * np.sqrt(cells / seeds) / cells
    mde = detectable_effect(se, cells * (seeds - 1), alpha)
    found = [
        two_questions(mde + rng.normal(0, sd, cells * seeds), labels).p < alpha for _ in range(4000)
    ]
    assert np.mean(found) == pytest.approx(0.80, abs=3 * np.sqrt(0.16 / 4000))


def test_what_an_exact_test_over_cells_can_reach():
    assert exact_floor(5) == pytest.approx(0.0625) and exact_floor(20) == pytest.approx(2**-19)
    assert units_needed(0.05) == 6 and units_needed(0.05 / 40) == 11  # METHODOLOGY.md sec. 7
