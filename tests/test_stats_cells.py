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
    # cells A: 1, 2, 3 (mean 2, variance 1) and B: 4, 6 (mean 5, variance 2)
    result = two_questions([1.0, 2.0, 3.0, 4.0, 6.0], ["A", "A", "A", "B", "B"])
    assert (result.cells, result.pairs) == (2, 5)
    assert result.delta == pytest.approx(3.5)  # equal weight per cell, not 16 / 5
    # Welch: v_A = 1 / 3, v_B = 2 / 2; SE^2 = (v_A + v_B) / 2^2; Satterthwaite df
    # (v_A + v_B)^2 / (v_A^2 / 2 + v_B^2 / 1) = (16 / 9) / (19 / 18) = 32 / 19
    se, df = np.sqrt(4 / 3) / 2, 32 / 19
    assert result.se == pytest.approx(se) and result.df == pytest.approx(df)
    assert result.p == pytest.approx(2 * scipy_stats.t.sf(3.5 / se, df))
    half = scipy_stats.t.ppf(0.975, df) * se
    assert (result.ci_low, result.ci_high) == pytest.approx((3.5 - half, 3.5 + half))
    # across settings: one-way random effects, the t over the cell means 2 and 5 on 1 df, and
    # the exact sign flip over them (2 of 4 patterns reach |3.5|)
    across_se = np.std([2, 5], ddof=1) / np.sqrt(2)
    assert (result.across_se, result.across_df) == pytest.approx((across_se, 1))
    assert result.across_p == pytest.approx(2 * scipy_stats.t.sf(3.5 / across_se, 1))
    assert result.across_p_signflip == 0.5 and result.across_p_floor == 0.5
    # heterogeneity: F = (3 (2 - 3.2)^2 + 2 (5 - 3.2)^2) / 1 / (4 / 3) on (1, 3) df
    assert result.heterogeneity_p == pytest.approx(scipy_stats.f.sf(10.8 / (4 / 3), 1, 3))
    # per cell: mean +- t_{n_c - 1} s_c / sqrt(n_c), its own variance; Holm over the 2 cells
    p_a, p_b = 2 * scipy_stats.t.sf(2 / np.sqrt(1 / 3), 2), 2 * scipy_stats.t.sf(5 / 1, 1)
    assert [c[5] for c in result.per_cell] == pytest.approx([2 * p_a, max(2 * p_a, p_b)])
    assert (result.cells_won, result.cells_lost) == (0, 0)  # neither survives Holm
    label, n, mean, low, high, _ = result.per_cell[1]
    assert (label, n, mean) == ("B", 2, 5.0)
    assert high - mean == pytest.approx(scipy_stats.t.ppf(0.975, 1) * 1.0)


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
    means = [0.5, 0.7, 0.2, 0.9]
    assert result.across_p == pytest.approx(scipy_stats.ttest_1samp(means, 0.0).pvalue)
    assert result.across_p_signflip == pytest.approx(2 / 16)  # all four positive: the floor
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
    """4 cells of 5 seeds, noise sd 0.3, threshold 0.001: at the MDE (from the true SE, on the
    Welch df the test has on such data, its mean over 1000 null draws, about 12.4 of 16), the
    fixed-cells t-test rejects in 80% of 4000 simulated contrasts, within 3 simulation SEs.
    On the pooled 16 df it would find only about 71%: the report's MDE takes each contrast's
    own estimated df for that reason."""
    rng = np.random.default_rng(7)
    cells, seeds, sd, alpha = 4, 5, 0.3, 0.001
    labels = np.repeat(np.arange(cells), seeds)

    def draw(shift):
        return two_questions(shift + rng.normal(0, sd, cells * seeds), labels, companions=False)

    se = sd * np.sqrt(cells / seeds) / cells
    df = np.mean([draw(0.0).df for _ in range(1000)])
    mde = detectable_effect(se, df, alpha)
    found = [draw(mde).p < alpha for _ in range(4000)]
    assert np.mean(found) == pytest.approx(0.80, abs=3 * np.sqrt(0.16 / 4000))


def test_what_an_exact_test_over_cells_can_reach():
    assert exact_floor(5) == pytest.approx(0.0625) and exact_floor(20) == pytest.approx(2**-19)
    assert units_needed(0.05) == 6 and units_needed(0.05 / 40) == 11  # METHODOLOGY.md sec. 7
