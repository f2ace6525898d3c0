"""Variance decomposition of a full factorial with replicate seeds (Montgomery, "Design and
analysis of experiments", ch. 5): the total sum of squares of one metric splits into main
effects, two-way interactions, higher-order interactions (the rest of the cell means) and the
within-cell (seed) part. Exact and orthogonal for balanced grids; with missing runs the main
effects and two-way terms are the unadjusted (type I, first-entered) sums of squares and the
higher-order remainder absorbs the overlap, so the shares still sum to 1.
"""
import itertools

import numpy as np

from .bootstrap import (LEVEL, RESAMPLES, acceleration, bca_interval, bootstrap_weights,
                        inflate_within, label_codes)

HIGHER_ORDER = "higher-order interactions"
WITHIN = "within cells (seeds)"


def decomposition_sources(factors):
    """Source names in report order: each factor, each pair 'a x b', higher order, within."""
    return [*factors, *(f"{a} x {b}" for a, b in itertools.combinations(factors, 2)),
            HIGHER_ORDER, WITHIN]


def weighted_shares(weights, y, groupings, n_factors):
    """Shares (W, S) of the total sum of squares of `y` (n,) under each row of `weights` (W, n)
    (case counts): SS_g = sum_k c_k (mean_k - grand)^2 for each grouping's codes (n,) in
    `groupings` = [each factor, each pair, all factors (cells)]; pair terms net of their two
    main effects; higher order = SS_cells - mains - pairs; within = SS_total - SS_cells.
    Counts and sums are taken per cell once (W x n x cells), then added up per grouping (every
    grouping is coarser than the cells)."""
    total_w = weights.sum(axis=1)
    grand = weights @ y / total_w
    ss_total = weights @ (y * y) - total_w * grand ** 2
    cells = groupings[-1]
    order = np.argsort(cells, kind="stable")  # rows by cell: each cell one contiguous segment
    segments = np.flatnonzero(np.diff(cells[order], prepend=-1))
    by_cell = weights[:, order]
    cell_counts = np.add.reduceat(by_cell, segments, axis=1)  # (W, cells)
    cell_sums = np.add.reduceat(by_cell * y[order], segments, axis=1)

    def between(codes):
        group_of_cell = np.zeros(cell_counts.shape[1], dtype=np.int64)
        group_of_cell[cells] = codes
        to_group = np.eye(codes.max() + 1)[group_of_cell]  # (cells, K)
        counts, sums = cell_counts @ to_group, cell_sums @ to_group
        with np.errstate(invalid="ignore", divide="ignore"):
            per_group = np.where(counts > 0, sums ** 2 / counts, 0.0)
        return per_group.sum(axis=1) - total_w * grand ** 2

    ss = [between(codes) for codes in groupings]
    mains, cells_ss = ss[:n_factors], ss[-1]
    pairs = [ss[n_factors + k] - mains[i] - mains[j]
             for k, (i, j) in enumerate(itertools.combinations(range(n_factors), 2))]
    zero = np.zeros_like(cells_ss)
    higher = cells_ss - sum(mains, zero) - sum(pairs, zero)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack([*mains, *pairs, higher, ss_total - cells_ss]) / ss_total[:, None]


def variance_decomposition(df, factors, value, rng=None, resamples=RESAMPLES, level=LEVEL):
    """{source: (share, low, high)} of the variance of `value` over the rows of `df` (one per
    run), sources as `decomposition_sources(factors)`. With `rng`, 95% BCa intervals from the
    stratified bootstrap (seeds resampled within cells, after bootstrap.inflate_within so that
    the seed share is not shrunk; jackknife acceleration), else nan bounds. {} when the
    metric does not vary."""
    y = df[value].to_numpy(float)
    n = len(y)
    if n < 2:  # e.g. a dataset whose runs are all still pending
        return {}
    keys = [tuple(row) for row in df[list(factors)].itertuples(index=False)]
    groupings = [label_codes(df[f]) for f in factors]
    groupings += [label_codes(zip(df[a], df[b])) for a, b in itertools.combinations(factors, 2)]
    groupings.append(label_codes(keys))
    point = weighted_shares(np.ones((1, n)), y, groupings, len(factors))[0]
    if not np.all(np.isfinite(point)):
        return {}
    sources = decomposition_sources(factors)
    weights = None if rng is None else bootstrap_weights(keys, rng, resamples)
    if weights is None:
        return {s: (float(v), float("nan"), float("nan")) for s, v in zip(sources, point)}
    replicates = weighted_shares(weights, inflate_within(y, keys), groupings, len(factors))
    jackknife = weighted_shares(1.0 - np.eye(n), y, groupings, len(factors))
    out = {}
    for j, source in enumerate(sources):
        finite = replicates[:, j][np.isfinite(replicates[:, j])]
        low, high, _ = bca_interval(finite, point[j], acceleration(jackknife[:, j]), level)
        out[source] = (float(point[j]), low, high)
    return out
