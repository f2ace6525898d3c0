"""Over these settings: the standard error of the equal-weight mean of K cell means when the
cells are the fixed target, and its distribution-free companion, the studentized sign-flip test
over the pairs. Both are vectorised: the same formula serves one contrast, every sign pattern of
a permutation test and every replicate of a simulation.
"""

import hashlib

import numpy as np

WELCH = "fixed cells, per-cell variances (Welch-Satterthwaite)"
POOLED = "fixed cells, pooled variance"
SIGN_PATTERNS = 20_000  # Monte Carlo patterns: p resolved down to about 1 / 20,000
CHUNK = 5_000  # patterns drawn at once (memory: CHUNK x n / 8 floats)


def fixed_model(counts):
    """WELCH where every cell has two values or more (each cell has a variance of its own),
    else POOLED (cells of one value borrow the others' noise)."""
    return WELCH if len(counts) and np.min(counts) >= 2 else POOLED


def fixed_cells_se(sums, squares, counts, model):
    """(theta, se, df), arrays of the leading shape of `sums`.

    sums (..., K): the sum of each cell's values; squares (..., K) or (K,): each cell's
    *uncentered* sum of squares (unchanged by flipping signs); counts (K,): n_c. With cell means
    m_c = sums / n_c and centered sums of squares W_c = squares - n_c m_c^2:
    theta = mean_c m_c.
    WELCH: v_c = W_c / (n_c - 1) / n_c, SE^2 = sum_c v_c / K^2, df = (sum_c v_c)^2 /
      sum_c v_c^2 / (n_c - 1) (Welch 1947; Satterthwaite 1946). A cell of zero variance (runs
      shared between two regimes: their change is exactly 0) adds 0 to both sums, so it lends
      the test no degrees of freedom. Where every v_c = 0, se = 0 and df = N - K.
    POOLED: s_p^2 = sum_c W_c / (N - K), SE = s_p sqrt(sum_c 1/n_c) / K on N - K df (the one-way
      ANOVA error term; Montgomery, "Design and analysis of experiments", ch. 3); nan where
      N = K.
    """
    sums = np.asarray(sums, float)
    counts = np.asarray(counts, float)
    k, n = counts.size, counts.sum()
    means = sums / counts
    within = np.maximum(squares - counts * means**2, 0.0)  # rounding can dip below 0
    theta = means.mean(axis=-1)
    if model == WELCH:
        v = within / (counts - 1) / counts
        total = v.sum(axis=-1)
        spread = (v**2 / (counts - 1)).sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            df = np.where(spread > 0, total**2 / spread, n - k)
        return theta, np.sqrt(total) / k, df
    if n <= k:
        nan = np.full(theta.shape, np.nan)
        return theta, nan, np.zeros(theta.shape)
    pooled = within.sum(axis=-1) / (n - k)
    return theta, np.sqrt(pooled * (1.0 / counts).sum()) / k, np.full(theta.shape, n - k)


def studentized(theta, se):
    """|theta / se|, inf where se = 0 < |theta| and 0 where both are 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(se > 0, np.abs(theta) / se, np.where(theta == 0, 0.0, np.inf))


def data_seed(values, codes):
    """A seed derived from the data (the bytes of values and cell codes): the same contrast gets
    the same Monte Carlo patterns on every run, different contrasts different ones."""
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes() + codes.tobytes()).digest()
    return np.frombuffer(digest, dtype=np.uint32)


def sign_flip_studentized_p(values, codes, counts, model, patterns=SIGN_PATTERNS):
    """Two-sided p of the studentized sign-flip test of theta = 0 over the pairs.

    Each pair's sign is flipped (s_i in {-1, 1}); the statistic |theta / SE| is recomputed under
    each pattern with fixed_cells_se (the same model as the t-test it accompanies): only the cell
    sums change, the uncentered sums of squares do not. Exact under the sharp null of errors
    symmetric about 0; studentizing makes it asymptotically valid for the weak null theta = 0 with
    unequal cell means and variances as well (Janssen 1997, "Studentized permutation tests for
    non-i.i.d. hypotheses and the generalized Behrens-Fisher problem"; Chung & Romano 2013,
    Ann. Statist. 41(2)). Values exactly 0 are unchanged by a flip and are left out of the
    patterns. Up to `patterns` sign patterns of the nonzero values, all are counted (exact,
    p = share >= observed); beyond, `patterns` random ones from a generator seeded by the data,
    p = (1 + count) / (1 + patterns) (Phipson & Smyth 2010). nan where the SE is undefined.
    values (n,), codes (n,) cell codes 0..K-1, counts (K,).
    """
    values = np.asarray(values, float)
    codes = np.asarray(codes, np.int64)
    k = len(counts)
    squares = np.bincount(codes, values**2, minlength=k)
    sums = np.bincount(codes, values, minlength=k)
    theta, se, _ = fixed_cells_se(sums, squares, counts, model)
    if not np.isfinite(se):
        return float("nan")
    observed = float(studentized(theta, se))
    threshold = observed * (1 - 1e-9)  # patterns equal to the observed one up to rounding count
    moving = np.flatnonzero(values != 0)
    design = np.zeros((len(moving), k))
    design[np.arange(len(moving)), codes[moving]] = values[moving]  # (m, K)
    fixed_sums = sums - design.sum(axis=0)  # zero values: nothing

    def count(flipped):  # (B, K) cell sums of the moving values -> how many reach the observed
        t, s, _ = fixed_cells_se(fixed_sums + flipped, squares, counts, model)
        return int((studentized(t, s) >= threshold).sum())

    m = len(moving)
    if 2**m <= patterns:
        every = np.arange(2**m)[:, None]
        signs = 1.0 - 2.0 * ((every >> np.arange(m)) & 1)
        return count(signs @ design) / 2.0**m
    groups, table = byte_table(values[moving], codes[moving], k)
    rng = np.random.default_rng(data_seed(values, codes))
    hits, left = 0, patterns
    while left:
        size = min(CHUNK, left)
        drawn = rng.integers(0, 256, (size, len(groups)), dtype=np.uint8)
        hits += count(table[np.arange(len(groups)), drawn] @ groups)
        left -= size
    return (1 + hits) / (1 + patterns)


def byte_table(values, codes, k):
    """(groups (G, K), table (G, 256)): the values split, cell by cell, into G groups of at most
    8, and each group's signed sum under every byte b, table[g, b] = sum_j (1 - 2 bit_j(b)) w_j
    (bits past the group's size unused). One uniform random byte per group is then one uniform
    sign pattern of its values, and a pattern's cell sums are table[g, byte_g] summed over the
    cell's groups (groups[g, c] = 1 where group g is in cell c): a lookup of G entries per pattern
    instead of a product with n signs."""
    order = np.argsort(codes, kind="stable")
    values, codes = values[order], codes[order]
    rank = np.arange(len(codes)) - np.searchsorted(codes, codes)  # place within its cell
    group = np.cumsum(np.r_[True, (codes[1:] != codes[:-1]) | (rank[1:] % 8 == 0)]) - 1
    bits = 1.0 - 2.0 * ((np.arange(256)[:, None] >> np.arange(8)) & 1)  # (256, 8)
    slots = np.zeros((group[-1] + 1, 8))
    slots[group, rank % 8] = values
    groups = np.zeros((group[-1] + 1, k))
    groups[group, codes] = 1.0
    return groups, slots @ bits.T
