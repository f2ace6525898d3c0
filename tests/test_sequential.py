"""The sequential looks (ablations/analysis/stats/sequential.py): the spending schedule by hand,
p* and its validity, conditional power at its limits, and seeded null simulations of the whole
rule (cells K in {1, 4, 16, 20}, waves W in {5, 10}, Gaussian and t(3) noise, heterogeneous
cells): rejection at most alpha + 2 SE, Holm's family-wise error at most 0.05 + 2 SE, and a
planted effect far above the MDE decided at wave 1. Every name here contains `sequential`."""

import numpy as np
import pytest
from scipy.special import ndtr, ndtri, stdtr

from ablations.analysis.stats import sequential as seq
from ablations.analysis.stats.fixed import WELCH, fixed_cells_se

REPLICATES = 4000
SEEDS_PER_WAVE = 2  # each cell gains this many values per wave (a within-cell variance from wave 1)


def simulate_sequential_cells(
    rng, replicates, k, waves, noise, effect=0.0, tests=None, largest_sd=3.0, first=SEEDS_PER_WAVE
):
    """(estimate, se, df, p) arrays (replicates, [tests,] W): the fixed-cells t-test
    (stats.fixed.fixed_cells_se, Welch) on waves 1..w of K heterogeneous cells. Cell c has mean
    effect + mu_c (mu centred, so the equal-weight mean is `effect`) and noise sd sigma_c
    spread evenly over [0.5, largest_sd]; the first wave holds `first` values per cell, each
    later one SEEDS_PER_WAVE; `noise` is 'gauss' or 't3' (Student t with 3 df,
    scaled to sd 1)."""
    n = first + SEEDS_PER_WAVE * np.arange(waves)  # values per cell after each wave
    shape = (replicates,) + ((tests,) if tests else ()) + (k, n[-1])
    mu = rng.normal(0, 1, k)
    mu = mu - mu.mean() if k > 1 else np.zeros(1)
    sigma = np.linspace(0.5, largest_sd, k) if k > 1 else np.ones(1)
    if noise == "gauss":
        e = rng.standard_normal(shape)
    else:
        e = rng.standard_t(3, shape) / np.sqrt(3.0)
    x = effect + mu[:, None] + sigma[:, None] * e
    s1 = np.cumsum(x, axis=-1)[..., n - 1]  # (..., K, W)
    s2 = np.cumsum(x**2, axis=-1)[..., n - 1]
    looks = [fixed_cells_se(s1[..., w], s2[..., w], np.full(k, n[w]), WELCH) for w in range(waves)]
    estimate, se, df = (np.stack([look[j] for look in looks], axis=-1) for j in range(3))
    return estimate, se, df, 2 * stdtr(df, -np.abs(estimate) / se)  # each (..., W)


def se_of_rate(alpha, replicates):
    return np.sqrt(alpha * (1 - alpha) / replicates)


def test_sequential_spending_by_hand():
    pi = seq.spending(5)
    assert pi.sum() == pytest.approx(1.0, abs=1e-12)
    assert pi[0] == 0.25
    # the O'Brien-Fleming shape by hand: F(t) = (2 - 2 Phi(1.959964 / sqrt(t))) / 0.05
    t = np.arange(1, 6) / 5
    shape = (2 - 2 * ndtr(ndtri(0.975) / np.sqrt(t))) / 0.05
    assert pi[1:] == pytest.approx(0.75 * np.diff(shape) / (1 - shape[0]), rel=1e-12)
    assert pi[1] == pytest.approx(0.02896, abs=1e-5) and pi[4] == pytest.approx(0.32363, abs=1e-5)
    assert np.all(np.diff(pi[1:]) > 0)  # O'Brien-Fleming: later looks spend more
    assert seq.spending(1).tolist() == [1.0]
    with pytest.raises(ValueError, match="fractions"):
        seq.spending(3, fractions=[0.5, 0.4, 1.0])


def test_sequential_combined_p_is_the_running_min_capped():
    pi = np.array([0.25, 0.25, 0.5])
    p = np.array([[0.5, 0.01, 0.4], [np.nan, 0.3, 0.2]])
    assert seq.combined_p(p, pi).tolist() == [[1.0, 0.04, 0.04], [1.0, 1.0, 0.4]]


def test_sequential_conditional_power_limits():
    # at the end the outcome is known: 1 when the test rejects there, 0 when not
    assert seq.conditional_power(3.0, 1.0, 1.0, 0.05) == pytest.approx(1.0)
    assert seq.conditional_power(1.0, 1.0, 1.0, 0.05) == pytest.approx(0.0)
    # a zero trend with half the information to come: P(|N(0, 1/2)| > 1.96)
    assert seq.conditional_power(0.0, 1.0, 1 / np.sqrt(2), 0.05) == pytest.approx(
        2 * ndtr(-1.959964 / np.sqrt(0.5)), rel=1e-5
    )
    # a strong trend early is near 1; power grows with the estimate
    powers = seq.conditional_power(np.array([0.0, 1.0, 2.0, 4.0]), 1.0, 0.5, 0.05)
    assert np.all(np.diff(powers) > 0) and powers[-1] > 0.99


def test_sequential_holm_rejects_by_hand():
    p = np.array([[0.001, 0.02, 0.03], [0.01, 0.04, 0.5], [0.03, np.nan, 0.01]])
    assert seq.holm_rejects(p, 0.05).tolist() == [
        [True, True, True],
        [True, False, False],
        [True, False, True],  # nan is outside the family (m = 2): 0.01 <= 0.05/2, 0.03 <= 0.05/1
    ]


@pytest.mark.parametrize("noise", ["gauss", "t3"])
@pytest.mark.parametrize("waves", [5, 10])
@pytest.mark.parametrize("k", [1, 4, 16, 20])
def test_sequential_null_rejection_at_most_alpha(k, waves, noise):
    rng = np.random.default_rng([29, k, waves, noise == "t3"])
    _, _, _, p = simulate_sequential_cells(rng, REPLICATES, k, waves, noise)
    p_star = seq.combined_p(p, seq.spending(waves))[:, -1]  # the smallest p* of any stop
    for alpha in (0.05, 0.01):
        rate = np.mean(p_star <= alpha)
        assert rate <= alpha + 2 * se_of_rate(alpha, REPLICATES), (alpha, rate)


@pytest.mark.parametrize("noise", ["gauss", "t3"])
def test_sequential_holm_family_wise_error(noise):
    """A family of 20 null tests (4 heterogeneous cells, 5 waves each), looked at after every
    wave with Holm over the current p* and the futility rule: the share of families with any
    rejection stays within 0.05 + 2 SE."""
    rng = np.random.default_rng([27, 29, noise == "t3"])
    family = 20
    looks = seq.family_looks(
        *simulate_sequential_cells(rng, REPLICATES, 4, 5, noise, tests=family), alpha=0.05
    )
    fwe = np.mean(looks.decided.any(axis=-1))
    assert fwe <= 0.05 + 2 * se_of_rate(0.05, REPLICATES), fwe
    assert looks.futile_wave.any()  # the futility rule did stop some null tests early


def test_sequential_planted_effect_is_decided_at_wave_one():
    """An effect of 10 x the full design's MDE at Holm's first threshold (a family of 21: the
    planted test and 20 nulls), in 16 cells of equal noise, is decided at the first look (three
    values per cell) in every replicate. At two values per cell the Welch df of the first look
    are too few for that (median 6 here, about 2 with unequal noise, where one cell's variance
    dominates: test_sequential_first_look_df_with_unequal_noise), and 1% of such replicates wait
    for the second look."""
    rng = np.random.default_rng(2029)
    family, k = 20, 16
    nulls = simulate_sequential_cells(
        rng, 500, k, 5, "gauss", tests=family, largest_sd=0.5, first=3
    )
    _, se, df, _ = nulls
    mde = float(np.median(seq.detectable(se[..., -1], df[..., -1], 0.05 / (family + 1))))
    planted = simulate_sequential_cells(
        rng, 500, k, 5, "gauss", effect=10 * mde, tests=1, largest_sd=0.5, first=3
    )
    looks = seq.family_looks(
        *(np.concatenate([a, b], axis=1) for a, b in zip(planted, nulls)), alpha=0.05
    )
    assert np.all(looks.decided_wave[:, 0] == 1)


def test_sequential_first_look_df_with_unequal_noise():
    """The limit the planted test names: two values per cell, noise sd 0.5..3 over 4 cells,
    give a median Welch df below 3 at the first look (and above 15 at the fifth)."""
    _, _, df, _ = simulate_sequential_cells(np.random.default_rng(7), 2000, 4, 5, "gauss")
    assert np.median(df[:, 0]) < 3 and np.median(df[:, -1]) > 15


def test_sequential_spending_per_test_fractions():
    """A look that brings a test no new seed spends nothing; the first that does spends 25%;
    a test complete after one look spends everything there; rows are tests (..., W)."""
    early = [0.4, 0.6, 0.8, 1.0, 1.0, 1.0]  # the tuned regime's 5 seeds in a 10-seed design
    late = [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]  # seeds only in waves 3 and 5
    once = [1.0] * 6
    pi = seq.spending(6, fractions=[early, late, once])
    assert pi.sum(axis=-1) == pytest.approx(np.ones(3), abs=1e-12)
    assert pi[0, 0] == 0.25 and np.all(pi[0, 4:] == 0) and np.all(pi[0, 1:4] > 0)
    assert pi[0, 1:4] == pytest.approx(seq.spending(4, fractions=early[:4])[1:], rel=1e-12)
    assert pi[1].tolist() == [0.0, 0.0, 0.25, 0.0, 0.75, 0.0]
    assert pi[2].tolist() == [1.0, 0, 0, 0, 0, 0]
    assert seq.final_looks([early, late, once]).tolist() == [4, 5, 1]
    with pytest.raises(ValueError, match="non-decreasing"):
        seq.spending(3, fractions=[0.5, 0.4, 1.0])
    with pytest.raises(ValueError, match="ending at 1"):
        seq.spending(3, fractions=[0.5, 0.6, 0.9])


def test_sequential_spending_at_a_tiny_alpha():
    """F(t) in its survival form: no cancellation to 0 at alpha 1e-12 (2 - 2 Phi(7.1 / sqrt(t))
    rounds to 0 in double precision for t < 0.9), so the shares stay finite and sum to 1."""
    pi = seq.spending(5, alpha=1e-12)
    assert np.all(np.isfinite(pi)) and pi.sum() == pytest.approx(1.0)
    assert np.all(np.diff(pi[1:]) > 0)


@pytest.mark.parametrize("noise", ["gauss", "t3"])
def test_sequential_null_rejection_with_early_complete_tests(noise):
    """A test whose seeds all fall in the first 4 of 9 waves (its information complete at look
    4, later looks repeating its p) rejects a null at most alpha + 2 SE: family_looks closes it
    at its final look, spending its whole alpha over looks 1..4."""
    rng = np.random.default_rng([29, 4, noise == "t3"])
    estimate, se, df, p = simulate_sequential_cells(rng, REPLICATES, 16, 4, noise, tests=1)
    repeat = [0, 1, 2, 3, 3, 3, 3, 3, 3]
    arrays = [a[..., repeat] for a in (estimate, se, df, p)]
    fractions = np.array([0.4, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    for alpha in (0.05, 0.01):
        looks = seq.family_looks(*arrays, alpha, fractions=fractions)
        assert np.all(looks.closed_wave <= 4) and np.all(looks.final_wave == 4)
        rate = np.mean(looks.decided)
        assert rate <= alpha + 2 * se_of_rate(alpha, REPLICATES), (alpha, rate)
