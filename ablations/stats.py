"""The statistics behind the report, on a tidy DataFrame with one row per run.

Paired differences: a level is compared with the baseline level of the same factor on runs that
match in every other factor and seed, so initial weights and data order cancel out. Confidence
intervals use Student's t over those pairs. Variance shares are a sums-of-squares decomposition
of the cell means (exact for the balanced grids this harness expands).
"""
import itertools

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats


def mean_ci(values, level=0.95):
    """(mean, half-width of the `level` t-interval, n); half-width is nan for n < 2."""
    values = np.asarray(values, float)
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return mean, float("nan"), n
    sem = values.std(ddof=1) / np.sqrt(n)
    return mean, float(scipy_stats.t.ppf(0.5 + level / 2, n - 1) * sem), n


def paired_differences(df, factor, level, baseline, value, match):
    """value(level) - value(baseline) for every pair of rows equal on the `match` columns."""
    keyed = df.set_index(match)
    a = keyed[keyed[factor] == level][value]
    b = keyed[keyed[factor] == baseline][value]
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    return (joined["a"] - joined["b"]).to_numpy()


def effect_table(df, factor, baseline, value, match, scale=1.0):
    """One row per level of `factor`: mean value, and its paired difference from `baseline`."""
    rows = []
    for level in sorted(df[factor].unique(), key=lambda v: (v != baseline, str(v))):
        mean = df.loc[df[factor] == level, value].mean() * scale
        if level == baseline:
            rows.append([level, mean, "baseline", 0])
            continue
        diff, half, n = mean_ci(paired_differences(df, factor, level, baseline, value, match))
        rows.append([level, mean, f"{diff * scale:+.2f} ± {half * scale:.2f}", n])
    return pd.DataFrame(rows, columns=[factor, f"mean {value}", f"vs {baseline} (95% CI)", "pairs"])


def variance_shares(df, factors, value):
    """Share of the variance of `value` explained by each factor and each pair of factors.

    Main effect SS_A = sum_a n_a (mean_a - mean)^2; interaction SS_AB = SS(cell means of A x B)
    - SS_A - SS_B. Shares are SS / SS_total; the rest is the residual (higher orders, seeds).
    """
    grand = df[value].mean()
    total = float(((df[value] - grand) ** 2).sum())
    if total == 0:
        return {}

    def between(columns):
        groups = df.groupby(list(columns))[value]
        return float((groups.count() * (groups.mean() - grand) ** 2).sum())

    shares = {f: between([f]) / total for f in factors}
    for a, b in itertools.combinations(factors, 2):
        shares[f"{a} x {b}"] = (between([a, b]) - between([a]) - between([b])) / total
    return shares


def pareto_front(cost, value):
    """Boolean mask of points no other point beats on both lower cost and higher value."""
    cost, value = np.asarray(cost, float), np.asarray(value, float)
    order = np.lexsort((-value, cost))
    front = np.zeros(len(cost), bool)
    best = -np.inf
    for i in order:
        if value[i] > best:
            front[i], best = True, value[i]
    return front
