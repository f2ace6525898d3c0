"""Paired contrasts: a level against the baseline level of its factor, on runs that match in
dataset, seed and every other factor, so initial weights and data order cancel out.

`paired_contrast` gives, from the n paired differences d_i = a_i - b_i, everything the report
prints about one contrast; `holm` adjusts a whole family of p-values at once.
"""
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit  # Student t quantile; scipy.stats takes 0.6 s to import

from .bootstrap import LEVEL, RESAMPLES, bootstrap_mean_ci

EXACT_MAX_PAIRS = 30  # up to 2^30 sign patterns are counted exactly; beyond, Monte Carlo
POWER, ALPHA = 0.80, 0.05


def mean_ci(values, level=LEVEL):
    """(mean, half-width of the `level` Student t-interval, n); half-width is nan for n < 2:
    mean +- t_{(1+level)/2, n-1} s / sqrt(n)."""
    values = np.asarray(values, float)
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return mean, float("nan"), n
    sem = values.std(ddof=1) / np.sqrt(n)
    return mean, float(stdtrit(n - 1, 0.5 + level / 2) * sem), n


def pair_up(df, factor, match, values):
    """A function pairs(level, baseline) -> DataFrame indexed by the `match` columns, with
    `<value>_a` (at `level`) and `<value>_b` (at `baseline`) for each of `values`, one row per
    pair present on both sides (a side may be nan: drop those per value). `df` is indexed once
    for every contrast of `factor`."""
    values = list(values)
    keyed = df.set_index(list(match))
    by_level = dict(list(keyed.groupby(factor, sort=False)[values]))
    empty = keyed[values].iloc[:0]

    def pairs(level, baseline):
        return by_level.get(level, empty).merge(by_level.get(baseline, empty), how="inner",
                                                left_index=True, right_index=True,
                                                suffixes=("_a", "_b"))
    return pairs


def sign_flip_p(diffs, rng, exact_max=EXACT_MAX_PAIRS, resamples=RESAMPLES):
    """(two-sided p, method) of the sign-flip permutation test of H0: the d_i are symmetric
    about 0. Statistic |sum_i s_i d_i| over sign patterns s in {-1, 1}^n (Fisher 1935; Good,
    "Permutation tests", 2005, sec. 3.1). n <= exact_max: all 2^n patterns, p = share with a
    statistic >= the observed one ("exact"; smallest possible p is 2/2^n), counted by meeting in
    the middle (`exact_count`). Larger n: `resamples` random patterns, p = (1 + count) /
    (1 + resamples) (Phipson & Smyth 2010) ("permutation")."""
    diffs = np.asarray(diffs, float)
    n = len(diffs)
    if n == 0:
        return float("nan"), "n/a"
    observed = abs(diffs.sum())
    tolerance = 1e-9 * max(1.0, np.abs(diffs).sum())  # sums that equal it up to rounding count
    if n <= exact_max:
        return exact_count(diffs, observed - tolerance) / 2.0 ** n, "exact"
    signs = 1.0 - 2.0 * rng.integers(0, 2, size=(resamples, n))
    count = int((np.abs(signs @ diffs) >= observed - tolerance).sum())
    return (1 + count) / (1 + resamples), "permutation"


def signed_sums(values):
    """(2^k,) the sums sum_i s_i v_i of `values` (k,) over every sign pattern s."""
    patterns = np.arange(1 << len(values))[:, None]
    return (1.0 - 2.0 * ((patterns >> np.arange(len(values))) & 1)) @ values


def exact_count(diffs, threshold):
    """How many of the 2^n sign patterns s give |sum_i s_i d_i| >= threshold, without listing
    them: the sums of each half's 2^(n/2) patterns, one half sorted, and for every sum l of the
    other half the r with l + r >= threshold or l + r <= -threshold found by binary search
    (meet in the middle; O(2^(n/2) n) instead of O(2^n n))."""
    if threshold <= 0:
        return 2 ** len(diffs)
    half = len(diffs) // 2
    left, right = signed_sums(diffs[:half]), np.sort(signed_sums(diffs[half:]))
    high = len(right) - np.searchsorted(right, threshold - left, side="left")
    low = np.searchsorted(right, -threshold - left, side="right")
    return int(high.sum() + low.sum())


def holm(p_values):
    """Holm (1979) step-down adjusted p-values: sort p ascending, p_adj(i) = max_{j <= i}
    min(1, (m - j + 1) p_(j)). Strong family-wise error control at any alpha. nan entries are not
    part of the family and stay nan."""
    p_values = np.asarray(p_values, float)
    adjusted = np.full(p_values.shape, np.nan)
    present = np.flatnonzero(np.isfinite(p_values))
    m = len(present)
    order = present[np.argsort(p_values[present], kind="stable")]
    steps = (m - np.arange(m)) * p_values[order]
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return adjusted


def wins(diffs):
    """1 where a beat b, 1/2 on a tie, 0 where it lost: the mean is paired P(A > B) (rliable's
    probability of improvement, in its paired form)."""
    diffs = np.asarray(diffs, float)
    return (diffs > 0) + 0.5 * (diffs == 0)


def cohens_dz(diffs):
    """Cohen's d_z for paired data: mean(d) / sd(d) (ddof 1; Lakens 2013, eq. 6); nan if n < 2
    or sd = 0."""
    diffs = np.asarray(diffs, float)
    if len(diffs) < 2 or diffs.std(ddof=1) == 0:
        return float("nan")
    return float(diffs.mean() / diffs.std(ddof=1))


def minimum_detectable_effect(diffs, alpha=ALPHA, power=POWER):
    """Smallest true mean difference a two-sided paired t-test at `alpha` detects with
    probability `power`, for these n pairs: (t_{1-alpha/2, n-1} + t_{power, n-1}) sd(d)/sqrt(n)
    (the usual normal-approximation formula with t quantiles; Cohen 1988, ch. 2). nan if n < 2."""
    diffs = np.asarray(diffs, float)
    n = len(diffs)
    if n < 2:
        return float("nan")
    quantiles = stdtrit(n - 1, 1 - alpha / 2) + stdtrit(n - 1, power)
    return float(quantiles * diffs.std(ddof=1) / np.sqrt(n))


@dataclass(frozen=True)
class Contrast:
    """One level against its baseline. Differences are a - b in the units given; nan where n
    is too small (the report prints 'n/a')."""

    n: int  # pairs
    mean: float
    t_half: float  # half-width of the 95% t-interval
    ci_low: float  # 95% stratified bootstrap CI of the mean difference
    ci_high: float
    ci_method: str  # "BCa", "percentile" (BCa undefined) or "n/a"
    p: float  # sign-flip p (two-sided)
    p_method: str  # "exact", "permutation" or "n/a"
    p_floor: float  # smallest p the exact test can give, 2/2^n
    p_improve: float  # paired P(A > B), ties 1/2
    p_improve_low: float
    p_improve_high: float
    d_z: float
    mde: float  # at 80% power, two-sided alpha 0.05


def paired_contrast(a, b, strata, rng, resamples=RESAMPLES, weights=None):
    """The Contrast of paired values a (n,) and b (n,) whose pairs fall in cells `strata` (n,),
    with seeded, stratified bootstrap CIs (seeds resampled within each cell; for the mean
    difference, of the within-cell-adjusted differences, see bootstrap.inflate_within).
    `weights`: a draw of bootstrap.bootstrap_weights(strata) to use instead of drawing one from
    `rng` (which then serves the sign-flip test alone)."""
    diffs = np.asarray(a, float) - np.asarray(b, float)
    n = len(diffs)
    mean, t_half, _ = mean_ci(diffs)
    (low, high, method), (w_low, w_high, _) = bootstrap_mean_ci(
        np.column_stack([diffs, wins(diffs)]), strata, rng, resamples, inflate=[0],
        weights=weights)
    p, p_method = sign_flip_p(diffs, rng, resamples=resamples)
    return Contrast(n=n, mean=mean, t_half=t_half, ci_low=low, ci_high=high, ci_method=method,
                    p=p, p_method=p_method, p_floor=2.0 / 2.0 ** n if n else float("nan"),
                    p_improve=float(wins(diffs).mean()) if n else float("nan"),
                    p_improve_low=w_low, p_improve_high=w_high, d_z=cohens_dz(diffs),
                    mde=minimum_detectable_effect(diffs))
