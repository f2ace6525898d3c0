"""Each statistic of ablations.analysis.stats against a worked example or an independent brute force."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from ablations.analysis.stats.aggregates import (
    binomial_se,
    curve_band,
    discrete_quantiles,
    iqm,
    iqm_ci,
    pareto_front,
    performance_profile,
    trimmed_means,
)
from ablations.analysis.stats.bootstrap import (
    acceleration,
    bca_interval,
    bootstrap_weights,
    inflate_within,
    resample_weights,
    stratified_indices,
)
from ablations.analysis.stats.factorial import HIGHER_ORDER, WITHIN, balance, variance_decomposition
from ablations.analysis.stats.paired import holm, mean_ci, pair_up, sign_flip_p


def test_mean_ci_by_hand():
    mean, half, n = mean_ci([1.0, 2.0, 3.0])
    # sd = 1, sem = 1/sqrt(3), t(0.975, df=2) = 4.302653
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert np.isnan(mean_ci([5.0])[1])


def test_paired_differences_match_on_the_other_factors():
    df = pd.DataFrame(
        {
            "opt": ["sgd", "adam", "sgd", "adam", "adam"],
            "seed": [0, 0, 1, 1, 2],
            "acc": [0.90, 0.95, 0.80, 0.86, 0.99],
        }
    )
    pairs = pair_up(df, "opt", ["seed"], ["acc"])("adam", "sgd")
    diffs = pairs["acc_a"] - pairs["acc_b"]
    np.testing.assert_allclose(sorted(diffs), [0.05, 0.06])  # seed 2 has no sgd twin
    assert pair_up(df, "opt", ["seed"], ["acc"])("rmsprop", "sgd").empty  # a level never run


@pytest.mark.parametrize("n", [1, 2, 3, 7, 11, 16])
def test_exact_sign_flip_p_equals_brute_force_enumeration(n):
    diffs = np.random.default_rng(n).normal(0.3, 1.0, n)
    observed = abs(diffs.sum())
    patterns = [
        abs(np.dot(signs, diffs)) >= observed - 1e-12
        for signs in itertools.product([-1, 1], repeat=n)
    ]
    p, method = sign_flip_p(diffs, np.random.default_rng(0))
    assert method == "exact" and p == pytest.approx(np.mean(patterns))


def test_sign_flip_p_by_hand_and_its_floor():
    # sum 5.5; only (+,+,+,+), (+,+,+,-) and their negations reach |sum| >= 5.5: 4 of 16
    assert sign_flip_p([1, 2, 3, -0.5], None) == (0.25, "exact")
    assert sign_flip_p([1.0, 2.0, 3.0], None)[0] == pytest.approx(2 / 2**3)  # the floor


def test_monte_carlo_sign_flip_p_is_near_the_exact_one_and_never_zero():
    diffs = np.random.default_rng(3).normal(0.4, 1.0, 18)
    exact, _ = sign_flip_p(diffs, None)
    sampled, method = sign_flip_p(diffs, np.random.default_rng(1), exact_max=10, resamples=20_000)
    assert method == "permutation" and sampled == pytest.approx(exact, abs=0.01)
    far, _ = sign_flip_p(np.full(40, 1.0), np.random.default_rng(1), resamples=999)
    assert far == pytest.approx(1 / 1000)  # (1 + 0) / (1 + 999), Phipson & Smyth


def test_holm_on_a_hand_made_list():
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 4*0.005, 3*0.01, 2*0.03, max(1*0.04, 0.06)
    adjusted = holm([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, np.nan, 0.02])
    assert holm([0.5, 0.9])[1] == 1.0 and holm([0.6, 0.7]).max() <= 1.0


def test_bca_matches_scipy_bootstrap_on_a_plain_case():
    x = np.random.default_rng(1).exponential(size=30)
    theirs = scipy_stats.bootstrap(
        (x,), np.mean, n_resamples=50_000, method="BCa", random_state=0
    ).confidence_interval
    replicates = bootstrap_weights(np.zeros(30), np.random.default_rng(0), 50_000) @ x / 30
    jackknife = (x.sum() - x) / 29
    low, high, method = bca_interval(replicates, x.mean(), acceleration(jackknife))
    assert method == "BCa"
    width = theirs.high - theirs.low
    assert low == pytest.approx(theirs.low, abs=0.03 * width)
    assert high == pytest.approx(theirs.high, abs=0.03 * width)


def test_bca_falls_back_to_percentile_where_undefined():
    assert bca_interval(np.full(100, 2.0), 2.0, float("nan")) == (2.0, 2.0, "percentile")
    assert bootstrap_weights([0], np.random.default_rng(0)) is None  # one row: no interval


def test_stratified_resamples_stay_in_their_stratum_and_are_seeded():
    strata = ["a", "b", "a", "c", "b", "a"]
    indices = stratified_indices(strata, 500, np.random.default_rng(4))
    assert indices.shape == (500, 6)
    drawn = np.array(strata)[indices]
    assert sorted(map(tuple, {tuple(sorted(row)) for row in drawn})) == [
        ("a", "a", "a", "b", "b", "c")
    ]  # every resample keeps each stratum's size
    assert set(indices[:, 3]) == {3}  # a stratum of one row always draws that row
    np.testing.assert_array_equal(
        indices, stratified_indices(strata, 500, np.random.default_rng(4))
    )
    weights = resample_weights(indices, 6)
    np.testing.assert_array_equal(weights.sum(axis=1), 6)


@pytest.mark.parametrize("strata", [np.repeat(np.arange(10), 4), np.tile(np.arange(7), 5)])
def test_bootstrap_weights_are_the_counts_of_the_stratified_indices(strata):
    """The fast path (counts by sorted position) draws exactly what the reference does."""
    fast = bootstrap_weights(strata, np.random.default_rng(5), 300)
    reference = resample_weights(
        stratified_indices(strata, 300, np.random.default_rng(5)), len(strata)
    )
    np.testing.assert_array_equal(fast, reference)


def test_iqm_against_trim_mean_and_its_interval():
    x = np.random.default_rng(2).normal(size=40)
    assert iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25))
    assert iqm([1, 2, 3, 4, 100, 5, 6, 7]) == pytest.approx(np.mean([3, 4, 5, 6]))
    weights = bootstrap_weights(np.repeat(np.arange(10), 4), np.random.default_rng(0))
    estimate, low, high, _ = iqm_ci(x, weights)
    assert low < estimate < high
    assert bootstrap_weights([0, 1], np.random.default_rng(0)) is None  # one run per cell
    assert iqm_ci([1.0, 2.0], None)[3] == "n/a"


def test_performance_profile_by_hand():
    values = np.array([90.0, 91.0, 92.0, 93.0])
    fraction, low, high = performance_profile(
        values, [89.0, 91.5, 93.0], bootstrap_weights([0, 0, 1, 1], np.random.default_rng(0))
    )
    np.testing.assert_allclose(fraction, [1.0, 0.5, 0.0])
    assert np.all(low <= fraction) and np.all(fraction <= high)
    assert low[0] == high[0] == 1.0  # every resample scores above 89


def test_curve_band_mean_ignores_missing_epochs():
    curves = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, np.nan]])
    mean, low, high = curve_band(curves, bootstrap_weights([0, 0], np.random.default_rng(0)))
    np.testing.assert_allclose(mean, [2.0, 3.0, 3.0])
    assert low[0] >= 1.0 and high[0] <= 3.0
    assert np.isnan(curve_band(curves[:1], None)[1]).all()


def test_binomial_se():
    assert binomial_se(0.98, 10_000) == pytest.approx(0.0014)
    assert np.isnan(binomial_se(0.9, 0))


def test_pareto_front():
    np.testing.assert_array_equal(
        pareto_front([1, 2, 3, 3], [0.5, 0.4, 0.9, 0.8]), [True, False, True, False]
    )


def test_variance_decomposition_of_a_hand_made_2x2():
    """y = cells (a1,b1)=1, (a1,b2)=3, (a2,b1)=5, (a2,b2)=7, each with seeds +-1.
    SS_total = 20 * 2 + 4 (seeds: 8 runs, each 1 from its cell mean) = 48, SS_a = 32, SS_b = 8,
    SS_ab = 0, within = 8."""
    rows = [
        (a, b, mean + noise)
        for (a, b), mean in {
            ("a1", "b1"): 1,
            ("a1", "b2"): 3,
            ("a2", "b1"): 5,
            ("a2", "b2"): 7,
        }.items()
        for noise in (-1.0, 1.0)
    ]
    df = pd.DataFrame(rows, columns=["a", "b", "y"])
    shares = variance_decomposition(df, ["a", "b"], "y")
    assert shares["a"][0] == pytest.approx(32 / 48)
    assert shares["b"][0] == pytest.approx(8 / 48)
    assert shares["a x b"][0] == pytest.approx(0, abs=1e-12)
    assert HIGHER_ORDER not in shares  # with two factors the pair is all of the cell means
    assert shares[WITHIN][0] == pytest.approx(8 / 48)


def test_variance_decomposition_of_no_runs_or_one_run_is_empty():
    df = pd.DataFrame({"a": ["a1", "a2"], "y": [0.9, 0.8]})
    assert variance_decomposition(df.iloc[:0], ["a"], "y", np.random.default_rng(0)) == {}
    assert variance_decomposition(df.iloc[:1], ["a"], "y", np.random.default_rng(0)) == {}


def synthetic_factorial(seed, effects, seeds=3, noise=0.3):
    """Balanced a (3 levels) x b (3) x c (2) x seeds, y = effect_a + effect_b + effect_c
    + a x b interaction + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, j, k in itertools.product(range(3), range(3), range(2)):
        cell = (
            effects["a"] * i + effects["b"] * (j == 1) + effects["c"] * k + effects["ab"] * (i == j)
        )
        rows += [(f"a{i}", f"b{j}", f"c{k}", cell + rng.normal(0, noise)) for _ in range(seeds)]
    return pd.DataFrame(rows, columns=["a", "b", "c", "y"])


def test_variance_decomposition_sums_to_one_with_intervals_around_it():
    df = synthetic_factorial(0, {"a": 1.0, "b": 0.5, "c": 0.1, "ab": 0.4})
    shares = variance_decomposition(df, ["a", "b", "c"], "y", np.random.default_rng(0), 2000)
    assert sum(v[0] for v in shares.values()) == pytest.approx(1.0)
    assert list(shares) == ["a", "b", "c", "a x b", "a x c", "b x c", HIGHER_ORDER, WITHIN]
    for share, low, high in shares.values():
        assert low <= high
    for source in ["a", "b", WITHIN]:  # (BCa may move a small share's interval off it)
        assert shares[source][1] <= shares[source][0] <= shares[source][2]
    assert shares["a"][1] > shares["b"][2]  # a is clearly first


def test_an_unbalanced_design_gives_no_negative_shares_and_an_empty_cell_none():
    """Cells of 1 to 5 runs with a strong a x b interaction (the design where type-I sums of
    squares leave a negative remainder): unweighted means keep every share in [0, 1]; a cell
    with no run at all is not decomposed."""
    df = synthetic_factorial(2, {"a": 0.2, "b": 0.1, "c": 0.0, "ab": 2.0}, seeds=5, noise=0.3)
    keep = np.random.default_rng(3).integers(1, 6, size=len(df) // 5)  # runs kept per cell
    df = df[np.arange(len(df)) % 5 < np.repeat(keep, 5)]
    assert not balance(df, ["a", "b", "c"]).balanced and balance(df, ["a", "b", "c"]).complete
    shares = variance_decomposition(df, ["a", "b", "c"], "y", np.random.default_rng(0), 500)
    assert sum(v[0] for v in shares.values()) == pytest.approx(1.0)
    assert all(0.0 <= v[0] <= 1.0 and v[1] >= 0.0 for v in shares.values())
    assert shares["a x b"][0] > 0.5
    holed = df[~((df["a"] == "a0") & (df["b"] == "b0"))]
    assert not balance(holed, ["a", "b", "c"]).complete
    assert variance_decomposition(holed, ["a", "b", "c"], "y") == {}


def test_a_balanced_design_is_decomposed_exactly():
    """Balanced: the shares are the type-I (= every type) sums of squares over SS_total."""
    df = synthetic_factorial(4, {"a": 1.0, "b": 0.5, "c": 0.2, "ab": 0.3}, seeds=3)
    assert balance(df, ["a", "b", "c"]).balanced
    y = df["y"].to_numpy()
    total = ((y - y.mean()) ** 2).sum()
    ss_a = sum(len(g) * (g.mean() - y.mean()) ** 2 for _, g in df.groupby("a")["y"])
    within = sum(((g - g.mean()) ** 2).sum() for _, g in df.groupby(["a", "b", "c"])["y"])
    shares = variance_decomposition(df, ["a", "b", "c"], "y")
    assert shares["a"][0] == pytest.approx(ss_a / total)
    assert shares[WITHIN][0] == pytest.approx(within / total)


def test_variance_decomposition_ranks_factors_like_a_random_forest_surrogate():
    """Cross-check (METHODOLOGY.md sec. 4): a random forest on one-hot factors, impurity
    importances summed per factor, ranks the main effects in the same order."""
    from sklearn.ensemble import RandomForestRegressor

    df = synthetic_factorial(1, {"a": 1.0, "b": 0.6, "c": 0.15, "ab": 0.0}, seeds=5, noise=0.2)
    shares = variance_decomposition(df, ["a", "b", "c"], "y")
    onehot = pd.get_dummies(df[["a", "b", "c"]])
    forest = RandomForestRegressor(n_estimators=64, random_state=0).fit(onehot, df["y"])
    surrogate = {
        f: forest.feature_importances_[onehot.columns.str.startswith(f + "_")].sum()
        for f in ["a", "b", "c"]
    }
    assert sorted(surrogate, key=surrogate.get) == sorted("abc", key=lambda f: shares[f][0])
    assert sorted("abc", key=lambda f: shares[f][0]) == ["c", "b", "a"]


def test_inflated_within_resampling_keeps_the_seed_variance_unbiased():
    """Resampling 3 values per stratum shrinks the variance of the mean by 2/3; after
    inflate_within the bootstrap variance equals sum_c n_c s_c^2 / N^2 (s_c with ddof 1)."""
    rng = np.random.default_rng(5)
    values, strata = rng.normal(size=30), np.repeat(np.arange(10), 3)
    adjusted = inflate_within(values, strata)
    np.testing.assert_allclose(
        [adjusted[strata == c].mean() for c in range(10)],
        [values[strata == c].mean() for c in range(10)],
    )
    target = sum(3 * values[strata == c].var(ddof=1) for c in range(10)) / 30**2
    weights = resample_weights(stratified_indices(strata, 40_000, rng), 30)
    assert (weights @ adjusted / 30).var() == pytest.approx(target, rel=0.05)
    assert (weights @ values / 30).var() == pytest.approx(target * 2 / 3, rel=0.05)


@pytest.mark.parametrize("n", [4, 7, 48, 50])
def test_trimmed_means_of_resamples_equal_scipy_trim_mean(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    indices = stratified_indices(np.zeros(n), 300, rng)
    order = np.argsort(x)
    np.testing.assert_allclose(
        trimmed_means(x[order], resample_weights(indices, n)[:, order]),
        scipy_stats.trim_mean(x[indices], 0.25, axis=1),
        atol=1e-12,
    )


def test_discrete_quantiles_match_numpy_inverted_cdf():
    counts = np.random.default_rng(0).integers(0, 9, size=(1001, 5))
    low, high = discrete_quantiles(counts, 8, [0.025, 0.975])
    np.testing.assert_array_equal(low, np.quantile(counts, 0.025, axis=0, method="inverted_cdf"))
    np.testing.assert_array_equal(high, np.quantile(counts, 0.975, axis=0, method="inverted_cdf"))


def test_time_to_target_ranks_misses_last_and_ties_give_no_p():
    from scipy.stats import kruskal

    from ablations.analysis.stats.ranks import kruskal_p, median_time

    assert median_time([2, 3, np.inf]) == 3 and median_time([2, np.inf, np.inf]) == np.inf
    assert np.isnan(kruskal_p([[3, 3, 3], [3, 3]])) and np.isnan(kruskal_p([[1, 2], []]))
    fast, slow = [1, 2, 1, 2, 1, 2], [4, 5, np.inf, np.inf, 5, 4]
    assert kruskal_p([fast, slow]) < 0.01 < kruskal_p([fast, fast[::-1]])
    # a miss ranks last: the group with misses is slower than one that always reaches at 5
    assert kruskal_p([[5] * 6, [np.inf] * 6]) < 0.01
    rng = np.random.default_rng(7)
    for _ in range(20):  # scipy's test, ties and misses included
        groups = [
            np.where(rng.random(n) < 0.2, np.inf, rng.integers(1, 6, n))
            for n in rng.integers(2, 9, size=rng.integers(2, 5))
        ]
        assert kruskal_p(groups) == pytest.approx(kruskal(*groups).pvalue, rel=1e-9)
