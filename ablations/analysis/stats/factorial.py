"""Variance decomposition of a full factorial with replicate seeds (Montgomery, "Design and
analysis of experiments", ch. 5): the total sum of squares of one metric splits into main
effects, two-way interactions, higher-order interactions (the rest of the cell means) and the
within-cell (seed) part. Computed by the method of unweighted means (Yates 1934; Montgomery
sec. 15.3): the between-cell terms are those of the table of cell means, one value per cell,
times the harmonic mean n_h of the cell sizes. In a balanced design (every cell with the same
number of runs) that is the exact, orthogonal decomposition of the total sum of squares; with
unequal cells it is an approximation, but the cell-means table is still a balanced factorial,
so no share can be negative. A design with an empty cell is not decomposed (`balance` says).
"""

import itertools
from dataclasses import dataclass

import numpy as np

from .bootstrap import (
    LEVEL,
    RESAMPLES,
    acceleration,
    bca_interval,
    bootstrap_weights,
    inflate_within,
    label_codes,
)

HIGHER_ORDER = "higher-order interactions"
WITHIN = "within cells (seeds)"


def decomposition_sources(factors):
    """Source names in report order: each factor, each pair 'a x b', higher order (with three
    factors or more: with fewer the pairs are all of the cell means), within."""
    return [
        *factors,
        *(f"{a} x {b}" for a, b in itertools.combinations(factors, 2)),
        *([HIGHER_ORDER] if len(factors) > 2 else []),
        WITHIN,
    ]


@dataclass(frozen=True)
class Balance:
    """How far rows over `factors` fill their full factorial: `cells` combinations of the
    levels present, `filled` of them with a row, and the fewest and most rows in a filled cell."""

    cells: int
    filled: int
    runs_min: int
    runs_max: int

    @property
    def complete(self):
        return self.filled == self.cells > 0

    @property
    def balanced(self):
        """Every cell filled with the same number of rows: the decomposition is exact."""
        return self.complete and self.runs_min == self.runs_max


def balance(df, factors, cells=None):
    """The Balance of the rows of `df` over the columns `factors`, out of `cells` combinations
    (default: the product of the numbers of levels in `df`)."""
    if not factors or not len(df):
        return Balance(cells or int(len(df) > 0), int(len(df) > 0), len(df), len(df))
    sizes = df.groupby(list(factors), sort=False).size()
    cells = cells or int(np.prod([df[f].nunique() for f in factors]))
    return Balance(cells, len(sizes), int(sizes.min()), int(sizes.max()))


def unweighted_shares(weights, y, groupings, n_factors):
    """Shares (W, S) of the unweighted-means decomposition of `y` (n,) under each row of
    `weights` (W, n) (case counts). m_c = the weighted mean of cell c (C cells, codes
    groupings[-1]); for each grouping g of the cells (each factor, each pair, all factors),
    SS_g = n_h (sum_k M_k^2 / K_k - (sum_c m_c)^2 / C), M_k the sum of m_c over the K_k cells of
    group k, n_h = C / sum_c 1/n_c from the unit weights' cell sizes n_c; pair terms net of
    their two main effects; higher order = SS_cells - mains - pairs; within = sum_i w_i y_i^2 -
    sum_c S_c^2 / N_c (S_c, N_c the weighted sum and count of cell c). Shares are each term over
    the sum of the terms (the total sum of squares when the cells are balanced)."""
    cells = groupings[-1]
    order = np.argsort(cells, kind="stable")  # rows by cell: each cell one contiguous segment
    segments = np.flatnonzero(np.diff(cells[order], prepend=-1))
    by_cell = weights[:, order]
    counts = np.add.reduceat(by_cell, segments, axis=1)  # (W, C)
    sums = np.add.reduceat(by_cell * y[order], segments, axis=1)
    n_cells = counts.shape[1]
    harmonic = n_cells / np.sum(1.0 / np.bincount(cells))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts  # nan for a cell a jackknife sample empties
        within = weights @ (y * y) - np.sum(sums**2 / counts, axis=1)
    correction = means.sum(axis=1) ** 2 / n_cells

    def between(codes):
        group_of_cell = np.zeros(n_cells, dtype=np.int64)
        group_of_cell[cells] = codes
        to_group = np.eye(codes.max() + 1)[group_of_cell]  # (C, K)
        return harmonic * (
            ((means @ to_group) ** 2 / to_group.sum(axis=0)).sum(axis=1) - correction
        )

    ss = [between(codes) for codes in groupings]
    mains, cells_ss = ss[:n_factors], ss[-1]
    pairs = [
        ss[n_factors + k] - mains[i] - mains[j]
        for k, (i, j) in enumerate(itertools.combinations(range(n_factors), 2))
    ]
    zero = np.zeros_like(cells_ss)
    higher = cells_ss - sum(mains, zero) - sum(pairs, zero)
    # rounding can leave -1e-17 where a term is 0
    terms = np.clip(np.column_stack([*mains, *pairs, higher, within]), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return terms / terms.sum(axis=1, keepdims=True)


def variance_decomposition(df, factors, value, rng=None, resamples=RESAMPLES, level=LEVEL):
    """{source: (share, low, high)} of the variance of `value` over the rows of `df` (one per
    run), sources as `decomposition_sources(factors)`, by unweighted_shares (exact where
    `balance(df, factors).balanced`). With `rng`, 95% BCa intervals from the stratified
    bootstrap (seeds resampled within cells, after bootstrap.inflate_within so that the seed
    share is not shrunk; jackknife acceleration, percentile where a cell of one run makes it
    undefined), else nan bounds. {} when the design has an empty cell, fewer than two rows, or
    the metric does not vary."""
    y = df[value].to_numpy(float)
    n = len(y)
    if n < 2 or not balance(df, factors).complete:
        return {}
    keys = [tuple(row) for row in df[list(factors)].itertuples(index=False)]
    groupings = [label_codes(df[f]) for f in factors]
    groupings += [label_codes(zip(df[a], df[b])) for a, b in itertools.combinations(factors, 2)]
    groupings.append(label_codes(keys))
    point = unweighted_shares(np.ones((1, n)), y, groupings, len(factors))[0]
    if not np.all(np.isfinite(point)):
        return {}
    sources = decomposition_sources(factors)
    columns = [j for j in range(len(point)) if len(factors) > 2 or j != len(point) - 2]
    weights = None if rng is None else bootstrap_weights(keys, rng, resamples)
    if weights is None:
        return {s: (float(point[j]), float("nan"), float("nan")) for s, j in zip(sources, columns)}
    replicates = unweighted_shares(weights, inflate_within(y, keys), groupings, len(factors))
    jackknife = unweighted_shares(1.0 - np.eye(n), y, groupings, len(factors))
    out = {}
    for j, source in zip(columns, sources):
        finite = replicates[:, j][np.isfinite(replicates[:, j])]
        low, high, _ = bca_interval(finite, point[j], acceleration(jackknife[:, j]), level)
        out[source] = (float(point[j]), low, high)
    return out
