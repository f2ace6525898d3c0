"""The two questions one contrast can answer, each with one model (METHODOLOGY.md sec. 7-8).

A contrast's paired differences y (n,) fall in K *cells*, the settings of the other factors.
- **Over these settings** (the cells are the fixed target): theta = the equal-weight mean of the
  K true cell means. Only seed noise is random: y_ci = mu_c + e_ci, e_ci ~ (0, sigma_c^2), each
  cell with a variance of its own (fixed.py: Welch-Satterthwaite; pooled where a cell has one
  value). Its companion is the studentized sign-flip test of the same statistic over the pairs.
- **Across settings** (would it hold for other levels of the other factors?): the cells are a
  crossed table of those factors' levels, so the levels replicate, not the cells (crossed.py: a
  random-effects variance of the grand mean with Satterthwaite df). One-way tables also get the
  exact sign-flip test over the K cell means (2^K patterns: its smallest value is 2/2^K).
- **Heterogeneity**: the level x cell interaction, the ANOVA F of the cell means against the
  pooled within-cell noise (F = [sum n_c (ybar_c - ybar)^2 / (K - 1)] / s_p^2).
- **Per cell**: each cell's own t-test and interval, Holm-adjusted over the K cells of the
  contrast, from which "beyond seed noise in k of K cells" (and the cells against it) is counted.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import fdtrc, nctdtr, stdtr, stdtrit

from .bootstrap import LEVEL, label_codes
from .crossed import across_settings
from .fixed import data_seed, fixed_cells_se, fixed_model, sign_flip_studentized_p
from .paired import holm, sign_flip_p

POWER = 0.80  # the power at which a minimum detectable effect is stated


@dataclass(frozen=True)
class Cells:
    """Per-cell summaries of values y (n,) in cells: labels (K,) in order of first appearance,
    codes (n,) each value's cell, means (K,), counts (K,), variances (K,) each cell's own
    (ddof 1; nan for a cell of one value), the pooled within-cell variance and its degrees of
    freedom N - K (nan and 0 when no cell has two values)."""

    labels: list
    codes: np.ndarray
    means: np.ndarray
    counts: np.ndarray
    variances: np.ndarray
    pooled_var: float
    df: int


def summarize_cells(values, cells):
    """Cells of `values` (n,) grouped by the hashable labels `cells` (n,)."""
    values = np.asarray(values, float)
    codes = label_codes(cells)
    labels = list(dict.fromkeys(cells))
    counts = np.bincount(codes, minlength=len(labels))
    means = np.bincount(codes, values, minlength=len(labels)) / np.maximum(counts, 1)
    squares = np.bincount(codes, (values - means[codes]) ** 2, minlength=len(labels))
    with np.errstate(invalid="ignore", divide="ignore"):
        variances = np.where(counts >= 2, squares / (counts - 1), np.nan)
    df = int(len(values) - len(labels))
    pooled = float(squares.sum()) / df if df > 0 else float("nan")
    return Cells(labels, codes, means, counts, variances, pooled, df)


def t_p(estimate, se, df):
    """Two-sided p of the t statistic estimate / se on df > 0 degrees of freedom (real df, as
    Satterthwaite's); with se = 0 (no noise at all) 1 for a zero estimate and 0 otherwise; nan
    where df is not positive or se not finite."""
    if not df > 0 or not np.isfinite(se):
        return float("nan")
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    return float(2 * stdtr(df, -abs(estimate) / se))


def t_power(effect, se, df, alpha):
    """Power of the two-sided t-test at level `alpha` against a true `effect` with standard
    error `se` on df degrees of freedom: P(|T| > t_{1-alpha/2, df}), T noncentral t with
    noncentrality effect / se (Cohen 1988, ch. 2; scipy.special.nctdtr)."""
    critical = stdtrit(df, 1 - alpha / 2)
    shift = effect / se
    upper = nctdtr(df, shift, critical)
    if not np.isfinite(upper):  # scipy gives nan far in a tail: the CDF there is 0 or 1
        upper = 0.0 if shift > critical else 1.0
    lower = np.nan_to_num(nctdtr(df, shift, -critical))  # the far tail; nan where it underflows
    return float(1 - upper + lower)


def detectable_effect(se, df, alpha, power=POWER):
    """The smallest true effect the two-sided t-test at `alpha` detects with probability
    `power`, for this standard error and df (the noncentral t solved by Brent's method); nan
    where the test is undefined (df < 1, se not finite)."""
    if not df >= 1 or not np.isfinite(se) or not 0 < alpha < 1:
        return float("nan")
    if se == 0:
        return 0.0

    def short(shift):
        return t_power(shift, 1.0, df, alpha) - power

    high = float(stdtrit(df, 1 - alpha / 2)) + 3.0  # doubled until the power is reached
    while short(high) < 0:
        high *= 2
    return float(se * brentq(short, 0.0, high))


def exact_floor(k):
    """The smallest two-sided p an exact sign-flip test over k values can give: 2/2^k."""
    return 2.0 / 2.0**k if k else float("nan")


def units_needed(alpha):
    """The fewest values an exact sign-flip test needs for p <= alpha: log2(2 / alpha), up."""
    return int(np.ceil(np.log2(2.0 / alpha)))


@dataclass(frozen=True)
class TwoQuestions:
    """One contrast's answer to both questions (in the units of its values). nan where a
    question cannot be asked: over these settings needs two values in some cell, across
    settings a complete crossed table of two cells or more."""

    cells: int  # K
    pairs: int  # n
    delta: float  # the equal-weight mean of the cell means (both questions' estimate)
    se: float  # over these settings: seed-noise standard error of delta (fixed.fixed_cells_se)
    df: float  # its degrees of freedom (Welch-Satterthwaite, or N - K pooled)
    ci_low: float
    ci_high: float
    p: float  # the fixed-cells t-test of delta = 0
    model: str  # fixed.WELCH or fixed.POOLED
    p_signflip: float  # its distribution-free companion: the studentized sign flip over pairs
    across_se: float  # random-effects standard error of delta over the crossed table
    across_df: float  # its Satterthwaite degrees of freedom
    across_ci_low: float  # t-interval on across_df
    across_ci_high: float
    across_p: float  # t-test of delta = 0 across settings
    across_p_signflip: float  # exact sign flip over the K cell means (one-way only, else nan)
    across_p_floor: float  # the smallest p that sign flip can give, 2/2^K (nan where it is nan)
    across_model: str  # crossed.across_model, or why there is no across test
    across_levels: tuple  # the number of levels of each crossed factor, e.g. (4, 4)
    heterogeneity_p: float  # ANOVA F of the level x cell interaction
    cells_won: (
        int  # cells whose own t-test, Holm-adjusted over the K cells, is < 1 - level, above 0
    )
    cells_lost: int  # ... below 0
    per_cell: tuple  # ((label, n_c, mean, low, high, holm_p), ...) in order of first appearance


def two_questions(values, cells, level=LEVEL, companions=True):
    """TwoQuestions of the paired differences `values` (n,) in `cells` (n,) (hashable labels:
    tuples of the other factors' levels, one position per factor). Deterministic: every Monte
    Carlo sign flip is seeded by the data.

    Over these settings: fixed.fixed_cells_se (Welch-Satterthwaite where every cell has two
    values, else pooled) with its t-test and the studentized sign flip of the same statistic.
    Across settings: crossed.across_settings (random effects over the crossed table of the cell
    means) with its t-test, and where the table is one-way the exact sign flip over the cell
    means (for two crossed factors or more no distribution-free test is valid: the cells share
    row and column effects, so their signs are not exchangeable). companions=False leaves both
    sign flips out (nan): for an interval that no verdict rests on."""
    values = np.asarray(values, float)
    summary = summarize_cells(values, cells)
    means, counts, k = summary.means, summary.counts, len(summary.means)
    codes = summary.codes
    model = fixed_model(counts)
    squares = np.bincount(codes, values**2, minlength=k)
    sums = np.bincount(codes, values, minlength=k)
    nothing = (float("nan"),) * 3  # no pairs at all: nothing to estimate
    delta, se, df = (
        (float(x) for x in fixed_cells_se(sums, squares, counts, model)) if k else nothing
    )
    half = t_half(se, df, level)
    across_se, across_df, across_words, across_levels = across_settings(summary.labels, means)
    across_half = t_half(across_se, across_df, level)
    one_way = len(across_levels) == 1 and np.isfinite(across_se)
    across_signflip = (
        sign_flip_p(means, np.random.default_rng(data_seed(values, codes)))[0]
        if one_way and companions
        else float("nan")
    )
    per_cell = cell_tests(summary, level)
    alpha = 1 - level
    return TwoQuestions(
        cells=k,
        pairs=int(counts.sum()),
        delta=delta,
        se=se,
        df=df,
        ci_low=delta - half,
        ci_high=delta + half,
        p=t_p(delta, se, df),
        model=model,
        p_signflip=sign_flip_studentized_p(values, codes, counts, model)
        if k and companions
        else float("nan"),
        across_se=across_se,
        across_df=across_df,
        across_ci_low=delta - across_half,
        across_ci_high=delta + across_half,
        across_p=t_p(delta, across_se, across_df),
        across_p_signflip=float(across_signflip),
        across_p_floor=exact_floor(k) if one_way else float("nan"),
        across_model=across_words,
        across_levels=across_levels,
        heterogeneity_p=heterogeneity_p(summary),
        cells_won=sum(1 for c in per_cell if c[5] < alpha and c[2] > 0),
        cells_lost=sum(1 for c in per_cell if c[5] < alpha and c[2] < 0),
        per_cell=per_cell,
    )


def t_half(se, df, level):
    """Half-width t_{(1+level)/2, df} se of a `level` t-interval; nan where df is not > 0."""
    return float(stdtrit(df, 0.5 + level / 2) * se) if df > 0 else float("nan")


def cell_tests(summary, level):
    """((label, n_c, mean, low, high, holm_p), ...): each cell's own t-test of mean 0 and
    `level` interval, mean_c +- t_{n_c - 1} s_c / sqrt(n_c) (its own variance; a cell of one
    value borrows the pooled variance on N - K df where there is one, else nan), Holm-adjusted
    over the K cells of the contrast (paired.holm; a nan p is not in that family)."""
    k = len(summary.means)
    single = summary.counts < 2
    variances = np.where(single, summary.pooled_var, summary.variances)
    dfs = np.where(single, summary.df, summary.counts - 1).astype(float)
    ses = np.sqrt(variances / summary.counts)
    raw = [t_p(m, s, d) for m, s, d in zip(summary.means, ses, dfs)]
    adjusted = holm(raw) if k else np.array([])
    halves = [t_half(s, d, level) for s, d in zip(ses, dfs)]
    return tuple(
        (label, int(c), float(m), float(m - h), float(m + h), float(q))
        for label, c, m, h, q in zip(
            summary.labels, summary.counts, summary.means, halves, adjusted
        )
    )


def levels_needed(estimate, across_se, levels, threshold, power=POWER):
    """The fewest levels L per crossed factor (the same for each) at which the across-settings
    t-test at `threshold` would detect |estimate| with probability `power`: the smallest L with
    detectable_effect(se_L, L - 1, threshold) <= |estimate|, where se_L^2 = across_se^2 *
    min(levels) / L. An approximation: it assumes the variance of the grand mean scales as
    1 / L (true of the main effects of a balanced table with more levels of every factor; the
    interaction terms shrink faster) and takes the df of the smallest factor. None where the
    estimate is 0 or nan, or across_se is not finite. `levels`: the level counts, e.g. (4, 4)."""
    if not np.isfinite(estimate) or estimate == 0 or not np.isfinite(across_se) or not levels:
        return None
    base = min(levels)

    def enough(count):
        se = across_se * np.sqrt(base / count)
        return detectable_effect(se, count - 1, threshold, power) <= abs(estimate)

    high = 2
    while not enough(high):
        high *= 2
    low = high // 2  # enough(low) is false, or low = 1 (no test at one level)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return int(high)


def heterogeneity_p(summary):
    """p of the one-way ANOVA F test that every cell has the same true mean, with the pooled
    within-cell variance as error (Montgomery ch. 3); nan with fewer than two cells or no
    within-cell degrees of freedom."""
    k, df = len(summary.means), summary.df
    if k < 2 or df < 1:
        return float("nan")
    grand = (summary.counts * summary.means).sum() / summary.counts.sum()
    between = (summary.counts * (summary.means - grand) ** 2).sum() / (k - 1)
    if summary.pooled_var == 0:
        return 1.0 if between == 0 else 0.0
    return float(fdtrc(k - 1, df, between / summary.pooled_var))
