"""Paired contrasts: a level against the baseline level of its factor, on runs that match in
dataset, seed and every other factor, so initial weights and data order cancel out.

`pair_up` pairs the runs, `sign_flip_p` is the exact sign-flip test (cells.py applies it over a
contrast's cells), `mean_ci` the Student t-interval of a mean, and `holm` adjusts a whole family
of p-values at once.
"""

import numpy as np
from scipy.special import stdtrit  # Student t quantile; scipy.stats takes 0.6 s to import

from .bootstrap import LEVEL, RESAMPLES

EXACT_MAX_PAIRS = 30  # up to 2^30 sign patterns are counted exactly; beyond, Monte Carlo


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
        return by_level.get(level, empty).merge(
            by_level.get(baseline, empty),
            how="inner",
            left_index=True,
            right_index=True,
            suffixes=("_a", "_b"),
        )

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
        return exact_count(diffs, observed - tolerance) / 2.0**n, "exact"
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
    """Holm (1979) step-down adjusted p-values over the last axis of `p_values` (..., m): sort p
    ascending, p_adj(i) = max_{j <= i} min(1, (m - j + 1) p_(j)). Strong family-wise error
    control at any alpha; a test is rejected at alpha exactly where p_adj <= alpha. Entries that
    are not finite (nan) are not part of the family (m counts the finite ones) and stay nan."""
    p_values = np.asarray(p_values, float)
    present = np.isfinite(p_values)
    m = present.sum(axis=-1, keepdims=True)
    order = np.argsort(np.where(present, p_values, np.inf), axis=-1, kind="stable")
    ranked = np.take_along_axis(p_values, order, axis=-1)  # the family first, in order
    with np.errstate(invalid="ignore"):  # past the family: nan or inf times a count <= 0
        steps = np.minimum(
            1.0, np.maximum.accumulate((m - np.arange(ranked.shape[-1])) * ranked, -1)
        )
    adjusted = np.empty_like(p_values)
    np.put_along_axis(adjusted, order, steps, axis=-1)
    return np.where(present, adjusted, np.nan)
