"""Across settings: the variance of a contrast's grand mean when its cells are a crossed table
of the other factors' levels, and those levels (not the cells) are the units that replicate.

The K cell means of a contrast, y (L_1 x ... x L_F), are a random-effects table (Montgomery,
"Design and analysis of experiments", ch. 13): y = mu + sum over nonempty factor subsets T of
u_T, u_T a zero-mean effect of variance sigma_T^2 indexed by T's levels (the full interaction
absorbs the seed noise of the cell means). With N = prod L_f cells and MS_S the ANOVA mean
square of the term S (df_S = prod_{f in S} (L_f - 1)), E[MS_S] = sum_{T >= S} sigma_T^2
prod_{f not in T} L_f, so by inclusion-exclusion

    Var(grand mean) = sum_T sigma_T^2 / prod_{f in T} L_f = sum_{S nonempty} (-1)^(|S|+1) MS_S / N

(two factors: (MS_A + MS_B - MS_AB) / ab; one factor: s^2 / K, the t over the cell means). The
variance components are >= 0, so Var >= E[MS_S] / N for every main effect S: the estimate is
truncated below at max_S MS_S / N. Its degrees of freedom are Satterthwaite's (Satterthwaite
1946, "An approximate distribution of estimates of variance components", Biometrics Bull. 2) for
the combination used. Owen 2007 ("The pigeonhole bootstrap", Ann. Appl. Stat. 1(2)) shows why
treating the N cells as independent understates this variance: rows and columns each repeat.
"""

import itertools
import math

import numpy as np

ONE_WAY = "random effects, one-way over {k} cells"
CROSSED = "random effects, crossed {shape} (Satterthwaite df {df:.1f})"


def crossed_factors(labels):
    """(levels, table index) of the K distinct cell `labels` (tuples of levels; a non-tuple is
    one factor): `levels` the level lists of the positions with two levels or more (a position
    with one level is no factor of the table), in order of first appearance; `index` (K, F) each
    cell's position in the table."""
    rows = [label if isinstance(label, tuple) else (label,) for label in labels]
    width = len(rows[0]) if rows else 0
    positions = [list(dict.fromkeys(r[i] for r in rows)) for i in range(width)]
    levels = [p for p in positions if len(p) >= 2]
    kept = [i for i, p in enumerate(positions) if len(p) >= 2]
    index = np.array(
        [[positions[i].index(r[i]) for i in kept] for r in rows], dtype=np.int64
    ).reshape(len(rows), len(kept))
    return levels, index


def mean_squares(table, factors):
    """{S: (MS_S, df_S)} for every nonempty subset S (tuples of axis numbers) of the last
    `factors` axes of `table` (..., L_1, ..., L_F), one value per cell: the effect of S is
    sum_{T <= S} (-1)^(|S|-|T|) mean of the table over the axes not in T, SS_S its sum of
    squares over all cells (Montgomery ch. 5, one observation per cell)."""
    axes = list(range(table.ndim - factors, table.ndim))
    shape = table.shape[-factors:]

    def margin(kept):
        gone = tuple(a for a in axes if a not in kept)
        return table.mean(axis=gone, keepdims=True) if gone else table

    out = {}
    for size in range(1, factors + 1):
        for subset in itertools.combinations(range(factors), size):
            effect = sum(
                (-1) ** (size - len(t)) * margin({axes[i] for i in t})
                for r in range(size + 1)
                for t in itertools.combinations(subset, r)
            )
            ss = np.broadcast_to(effect**2, table.shape).sum(axis=tuple(axes))
            dof = math.prod(shape[i] - 1 for i in subset)
            out[subset] = (ss / dof, dof)
    return out


def crossed_variance(table, factors):
    """(Var(grand mean), Satterthwaite df), arrays of `table`'s leading shape, of the table of
    cell means `table` (..., L_1, ..., L_F) by the inclusion-exclusion of the module docstring,
    truncated below at the largest main-effect MS / N (then on that main effect's df).
    df = (sum_S c_S MS_S)^2 / sum_S (c_S MS_S)^2 / df_S; where every MS is 0, df = N - 1."""
    table = np.asarray(table, float)
    cells = math.prod(table.shape[-factors:])
    squares = mean_squares(table, factors)
    combined = sum((-1) ** (len(s) + 1) * ms for s, (ms, _) in squares.items())
    spread = sum(ms**2 / dof for ms, dof in squares.values())
    mains = np.stack([squares[(i,)][0] for i in range(factors)], axis=-1)
    main_df = np.array([squares[(i,)][1] for i in range(factors)], float)
    largest = mains.max(axis=-1)
    largest_df = main_df[mains.argmax(axis=-1)]
    truncated = combined <= largest
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(truncated, largest_df, combined**2 / spread)
    df = np.where(np.maximum(combined, largest) > 0, df, cells - 1)
    return np.where(truncated, largest, combined) / cells, df


def across_model(levels, df):
    """The words for the across-settings model: one-way over K cells, or crossed L_1 x L_2."""
    if len(levels) == 1:
        return ONE_WAY.format(k=len(levels[0]))
    shape = " x ".join(str(len(level)) for level in levels)
    return CROSSED.format(shape=shape, df=df)


def across_settings(labels, means):
    """(se, df, model, level counts) of the grand mean of the cell `means` (K,) with cell
    `labels` (K,) treated as a random-effects table (module docstring). nan se and df, and a
    model saying why, where the labels do not form a complete crossed table of factors with two
    levels or more each ("fewer than two cells", "incomplete crossed table: 14 of 16 cells")."""
    if len(means) < 2:
        return float("nan"), float("nan"), "fewer than two cells", ()
    levels, index = crossed_factors(labels)
    counts = tuple(len(level) for level in levels)
    full = math.prod(counts)
    if full != len(means):
        return (
            float("nan"),
            float("nan"),
            f"incomplete crossed table: {len(means)} of {full} cells",
            counts,
        )
    table = np.empty(counts)
    table[tuple(index.T)] = means
    var, df = crossed_variance(table, len(counts))
    return float(np.sqrt(var)), float(df), across_model(levels, float(df)), counts
