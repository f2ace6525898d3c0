"""Rank statistics of time to a target: medians and a test across groups in which a run that
never reached the target counts as infinitely slow (ranked last, as AlgoPerf counts a miss), so
that missing the target is never rewarded by leaving the run out. (scipy.special only: the
report does not import scipy.stats, which costs more than a second section to load.)
"""

import numpy as np
from scipy.special import chdtrc


def median_time(values):
    """Median of `values` (n,) with misses as inf (so inf when more than half missed); nan for
    no values."""
    values = np.asarray(values, float)
    return float(np.median(values)) if len(values) else float("nan")


def kruskal_p(groups):
    """p-value of the Kruskal-Wallis H test (Kruskal & Wallis 1952) that the k groups of values
    (misses as inf) come from one distribution, as scipy.stats.kruskal: with mid-ranks R over
    all N values, H = 12 / (N (N + 1)) sum_i R_i^2 / n_i - 3 (N + 1), divided by the tie
    correction 1 - sum_t (t^3 - t) / (N^3 - N), p = P(chi2_{k-1} > H). nan with fewer than two
    non-empty groups or when every value is the same (no ranks to compare)."""
    groups = [np.asarray(g, float) for g in groups if len(g)]
    if len(groups) < 2:
        return float("nan")
    values = np.concatenate(groups)
    distinct, inverse, ties = np.unique(values, return_inverse=True, return_counts=True)
    if len(distinct) < 2:
        return float("nan")
    ranks = (np.cumsum(ties) - (ties - 1) / 2)[inverse]  # mid-ranks, 1-based
    n = len(values)
    bounds = np.cumsum([0, *map(len, groups)])
    sums = np.add.reduceat(ranks, bounds[:-1])
    h = 12 / (n * (n + 1)) * np.sum(sums**2 / np.diff(bounds)) - 3 * (n + 1)
    h /= 1 - np.sum(ties**3 - ties) / (n**3 - n)
    return float(chdtrc(len(groups) - 1, h))
