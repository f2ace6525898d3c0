"""Distribution-level summaries of one level's runs (rliable, Agarwal et al. 2021): the IQM,
performance profiles and mean curves, each with a stratified-bootstrap band (runs resampled
within their cell of the other factors), and the Pareto front of accuracy against cost.
"""

import numpy as np

from .bootstrap import LEVEL, acceleration, bca_interval, leave_one_out

TRIM = 0.25  # the interquartile mean drops the lowest and highest quarter


def trim_mean(values, proportion=TRIM, axis=-1):
    """Mean after cutting int(proportion n) values from each end along `axis`, as
    scipy.stats.trim_mean (here to spare the report the import of scipy.stats)."""
    ordered = np.sort(np.asarray(values, float), axis=axis)
    n = ordered.shape[axis]
    cut = int(proportion * n)
    return np.take(ordered, np.arange(cut, n - cut), axis=axis).mean(axis=axis)


def iqm(values):
    """Interquartile mean: scipy.stats.trim_mean(values, 0.25) (rliable's aggregate_iqm)."""
    return float(trim_mean(values))


def trimmed_means(ordered, counts, proportion=TRIM):
    """scipy.stats.trim_mean of every resample at once, without sorting them: the resample with
    counts (B, n) of the sorted values `ordered` (n,) keeps, of value j, the copies ranked between
    g and n - g, g = int(proportion n) (as trim_mean cuts), so its trimmed mean is
    sum_j ordered_j (min(C_j, n-g) - max(C_{j-1}, g))^+ / (n - 2g), C the cumulative counts."""
    n = len(ordered)
    cut = int(proportion * n)
    small = np.int16 if n < 2**15 else np.int32  # exact: counts and their sums are <= n
    counts = np.asarray(counts).astype(small)
    after = np.cumsum(counts, axis=1, dtype=small)
    before = np.subtract(after, counts, out=counts)  # counts are not needed any more
    np.minimum(after, n - cut, out=after)
    np.maximum(before, cut, out=before)
    kept = np.subtract(after, before, out=after)
    np.maximum(kept, 0, out=kept)
    return kept @ ordered / (n - 2 * cut)


def iqm_ci(values, weights, level=LEVEL):
    """(iqm, low, high, method): the IQM with the BCa interval (jackknife acceleration) of the
    bootstrap whose counts are `weights` (B, n), from bootstrap.bootstrap_weights; (iqm, nan,
    nan, 'n/a') where `weights` is None."""
    values = np.asarray(values, float)
    if weights is None:
        return (iqm(values) if len(values) else float("nan")), float("nan"), float("nan"), "n/a"
    order = np.argsort(values, kind="stable")
    replicates = trimmed_means(values[order], weights[:, order])
    jackknife = trim_mean(leave_one_out(values), axis=1)
    estimate = iqm(values)
    return (estimate, *bca_interval(replicates, estimate, acceleration(jackknife), level))


def performance_profile(values, taus, weights, level=LEVEL):
    """Fraction of runs scoring above each tau, with a percentile band of the bootstrap whose
    counts are `weights` (B, n) (rliable's create_performance_profile): returns (fraction, low,
    high), each (len(taus),); the band is nan where `weights` is None."""
    values, taus = np.asarray(values, float), np.asarray(taus, float)
    above = (values[:, None] > taus[None, :]).astype(float)  # (n, T)
    fraction = above.mean(axis=0)
    if weights is None:
        return fraction, np.full_like(fraction, np.nan), np.full_like(fraction, np.nan)
    counts = np.rint(weights @ above).astype(np.int64)  # runs above tau in each resample
    low, high = discrete_quantiles(counts, len(values), [(1 - level) / 2, (1 + level) / 2])
    return fraction, low / len(values), high / len(values)


def discrete_quantiles(counts, n, probabilities):
    """Per column of integer `counts` (B, T) in 0..n, the inverted-CDF quantiles (the smallest
    k with share(counts <= k) >= q) at each probability: a histogram per column, no sorting.
    Returns one (T,) array per probability."""
    resamples, columns = counts.shape
    histogram = np.bincount(
        (counts + (n + 1) * np.arange(columns)).ravel(), minlength=columns * (n + 1)
    ).reshape(columns, n + 1)
    cdf = np.cumsum(histogram, axis=1) / resamples
    return [np.argmax(cdf >= q - 1e-12, axis=1).astype(float) for q in probabilities]


def curve_band(curves, weights, level=LEVEL):
    """Mean curve of runs (n, E) (nan past a run's last epoch) with a percentile band of the
    bootstrap whose counts are `weights` (B, n): returns (mean, low, high), each (E,); the band
    is nan where `weights` is None."""
    curves = np.asarray(curves, float)
    present = np.isfinite(curves)
    filled = np.where(present, curves, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / present.sum(axis=0)
        if weights is None:
            return mean, np.full_like(mean, np.nan), np.full_like(mean, np.nan)
        # every run as long as the longest (the usual case): each resample holds n runs
        counts = weights.sum(axis=1, keepdims=True) if present.all() else weights @ present
        replicates = (weights @ filled) / counts
    quantile = np.percentile if np.isfinite(replicates).all() else np.nanpercentile  # fast path
    low, high = quantile(replicates, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return mean, low, high


def binomial_se(accuracy, n_test):
    """Standard error of an accuracy p measured on n_test fixed test images,
    sqrt(p (1 - p) / n_test) (binomial sampling error; METHODOLOGY.md sec. 1); nan if n_test = 0."""
    return float(np.sqrt(accuracy * (1 - accuracy) / n_test)) if n_test else float("nan")


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


def std_ci(values, weights, level=LEVEL):
    """(sd, low, high, method): the sample standard deviation (ddof 1) of `values` (n,) with the
    BCa interval (jackknife acceleration) of its bootstrap replicates, each resample's sd from its
    counts `weights` (B, n) as sqrt(n / (n - 1) (sum w x^2 / n - (sum w x / n)^2)); (sd, nan, nan,
    'n/a') without weights (fewer than two values)."""
    values = np.asarray(values, float)
    n = len(values)
    estimate = float(values.std(ddof=1)) if n > 1 else float("nan")
    if weights is None:
        return estimate, float("nan"), float("nan"), "n/a"
    centred = values - values.mean()  # shift-invariant; avoids cancellation in the squares
    mean = weights @ centred / n
    replicates = np.sqrt(np.clip(weights @ centred**2 / n - mean**2, 0, None) * n / (n - 1))
    jackknife = leave_one_out(values).std(axis=1, ddof=1)
    return (estimate, *bca_interval(replicates, estimate, acceleration(jackknife), level))
