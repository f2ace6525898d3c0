"""Rank statistics of time to a target: medians and a test across groups in which a run that
never reached the target counts as infinitely slow (ranked last, as AlgoPerf counts a miss), so
that missing the target is never rewarded by leaving the run out.
"""
import numpy as np
from scipy.stats import kruskal


def median_time(values):
    """Median of `values` (n,) with misses as inf (so inf when more than half missed); nan for
    no values."""
    values = np.asarray(values, float)
    return float(np.median(values)) if len(values) else float("nan")


def kruskal_p(groups):
    """p-value of the Kruskal-Wallis H test (Kruskal & Wallis 1952; scipy.stats.kruskal, tie
    corrected, chi-square with k - 1 degrees of freedom) that the k groups of values (misses as
    inf) come from one distribution. nan with fewer than two non-empty groups or when every
    value is the same (no ranks to compare)."""
    groups = [np.asarray(g, float) for g in groups if len(g)]
    if len(groups) < 2 or len(np.unique(np.concatenate(groups))) < 2:
        return float("nan")
    return float(kruskal(*groups).pvalue)
