"""The stratified bootstrap, vectorized and seeded: rows are resampled with replacement within
their stratum (a cell of the other factors), B times at once.

`stratified_indices` draws a (B, n) matrix of row indices; `resample_weights` turns it into
counts (`bootstrap_weights` gives the same counts in fewer passes), so that any mean-type
statistic of every resample is one matrix product. Intervals are BCa (Efron 1987) where
defined, else percentile (Efron & Tibshirani 1993, ch. 13).
"""

import numpy as np
from scipy.special import ndtr, ndtri

RESAMPLES = 10_000  # rliable uses 50,000 by default; 10,000 keeps Monte Carlo error < 0.01 sd
LEVEL = 0.95


def resamplable(strata):
    """True when some stratum holds at least two rows: with one row per stratum (a single
    seed) every resample is the sample itself, and an interval would be a false zero width."""
    return len(strata) > 1 and np.bincount(label_codes(strata)).max() >= 2


def sorted_draws(strata, resamples, rng):
    """(order, positions): the rows sorted by stratum (stable), and a (resamples, n) int32
    matrix whose entry j of a resample is a position in that order drawn uniformly from the
    positions of row j's stratum. One `random` call for all strata."""
    codes = label_codes(strata)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    # float32 uniforms: half the memory traffic; u * size < size holds for u <= 1 - 2^-24
    uniform = rng.random((resamples, len(codes)), dtype=np.float32)
    positions = (uniform * sizes[codes].astype(np.float32)).astype(np.int32)
    positions += starts[codes].astype(np.int32)
    return order, positions


def stratified_indices(strata, resamples, rng):
    """(resamples, n) int indices into the n rows: row j of a resample is drawn uniformly from
    the rows of j's stratum, so each stratum keeps its size (rliable's StratifiedBootstrap).

    strata : (n,) hashable labels; rng : np.random.Generator.
    """
    order, positions = sorted_draws(strata, resamples, rng)
    return order[positions]


def inflate_within(values, strata):
    """values (n, ...) with each row's deviation from its stratum mean scaled by
    sqrt(n_s / (n_s - 1)) (strata of one row unchanged): resampling n_s rows with replacement
    shrinks the within-stratum variance by (n_s - 1)/n_s, a third with 3 seeds; resampling
    these adjusted values instead keeps it unbiased (Davison & Hinkley 1997, "Bootstrap methods
    and their application", sec. 3.2.3, adjusted residuals). Stratum means are unchanged."""
    values = np.asarray(values, float)
    codes = label_codes(strata)
    sizes = np.bincount(codes)
    means = np.zeros((len(sizes), *values.shape[1:]))
    np.add.at(means, codes, values)
    means /= sizes.reshape(-1, *[1] * (values.ndim - 1))
    scale = np.sqrt(sizes / np.maximum(sizes - 1, 1))[codes].reshape(-1, *[1] * (values.ndim - 1))
    return means[codes] + scale * (values - means[codes])


def resample_weights(indices, n):
    """(B, n) counts: how often each of the n rows appears in each resample (rows sum to n)."""
    resamples = len(indices)
    flat = (indices + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(float)


def bootstrap_weights(strata, rng, resamples=RESAMPLES):
    """(resamples, n) counts of a stratified bootstrap of the n rows in `strata`, or None where
    no stratum has two rows (no interval then). One draw can serve every statistic of the same
    rows (aggregates.py takes it as `weights`)."""
    if not resamplable(strata):
        return None
    order, positions = sorted_draws(strata, resamples, rng)
    n = len(order)
    positions += (n * np.arange(resamples, dtype=np.int32))[:, None]  # one bin per resample row
    counts = np.bincount(positions.ravel(), minlength=resamples * n).reshape(resamples, n)
    if np.any(order != np.arange(n)):  # counts are by sorted position: back to row order
        counts = counts[:, np.argsort(order)]
    return counts.astype(float)  # = resample_weights(stratified_indices(...)), fewer passes


def leave_one_out(values):
    """(n, n-1, ...) array: row i is `values` (n, ...) without its row i (the jackknife samples)."""
    values = np.asarray(values)
    n = len(values)
    keep = ~np.eye(n, dtype=bool)
    return np.broadcast_to(values, (n, *values.shape))[keep].reshape(n, n - 1, *values.shape[1:])


def acceleration(jackknife):
    """BCa acceleration a = sum (m - t_i)^3 / (6 (sum (m - t_i)^2)^1.5) from the leave-one-out
    estimates t_i (n,), m their mean (Efron 1987, eq. 6.6); nan where all t_i are equal."""
    jackknife = np.asarray(jackknife, float)
    deviations = jackknife.mean() - jackknife
    denominator = 6.0 * (deviations**2).sum() ** 1.5
    return float((deviations**3).sum() / denominator) if denominator > 0 else float("nan")


def bca_interval(replicates, estimate, acceleration, level=LEVEL):
    """(low, high, method): the BCa interval of bootstrap `replicates` (B,) around `estimate`,
    z0 = Phi^-1(share of replicates below the estimate, ties 1/2), bounds at the percentiles
    Phi(z0 + (z0 + z_a) / (1 - a (z0 + z_a))) (Efron 1987; as scipy.stats.bootstrap). Falls back
    to the percentile interval, and says so, where BCa is undefined (all replicates equal, or the
    estimate outside them, or a nan acceleration)."""
    replicates = np.asarray(replicates, float)
    alphas = np.array([(1 - level) / 2, (1 + level) / 2])
    share = ((replicates < estimate).mean() + (replicates <= estimate).mean()) / 2
    z0 = ndtri(share)
    if np.isfinite(z0) and np.isfinite(acceleration) and np.ptp(replicates) > 0:
        z = ndtri(alphas)
        adjusted = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
        if np.all(np.isfinite(adjusted)):
            low, high = np.percentile(replicates, 100 * adjusted)
            return float(low), float(high), "BCa"
    low, high = np.percentile(replicates, 100 * alphas)
    return float(low), float(high), "percentile"


def label_codes(labels):
    """Integer codes 0..k-1 of hashable labels (tuples allowed), in order of first appearance."""
    seen = {}
    return np.array([seen.setdefault(label, len(seen)) for label in labels], dtype=np.int64)
