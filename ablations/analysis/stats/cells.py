"""The two questions one contrast can answer, each with one model (METHODOLOGY.md sec. 7).

A contrast's paired differences y (n,) fall in K *cells*, the settings of the other factors.
- **Over these settings** (the cells are the fixed target): theta = the equal-weight mean of the
  K true cell means. Only seed noise is random: y_ci = mu_c + e_ci, e_ci ~ N(0, sigma^2). The
  interval and the p-value are both the fixed-effects t of that model (the one-way ANOVA error
  term; Montgomery, "Design and analysis of experiments", ch. 3): theta_hat = mean_c(ybar_c),
  SE = s_p sqrt(sum_c 1/n_c) / K, s_p^2 the pooled within-cell variance on N - K degrees of
  freedom.
- **Across settings** (would it hold for other settings?): the cell is the unit. The K cell
  means are exchangeable draws; the p-value is the exact sign-flip test over them (2^K patterns,
  so its smallest value is 2/2^K), the interval the t over the K cell means.
- **Heterogeneity**: the level x cell interaction, the ANOVA F of the cell means against the
  within-cell noise (F = [sum n_c (ybar_c - ybar)^2 / (K - 1)] / s_p^2).
Each cell also gets its own seed-noise interval ybar_c +- t_{N-K} s_p / sqrt(n_c), from which
"beyond seed noise in k of K cells" is counted.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import fdtrc, nctdtr, stdtr, stdtrit

from .bootstrap import LEVEL, label_codes
from .paired import sign_flip_p

POWER = 0.80  # the power at which a minimum detectable effect is stated


@dataclass(frozen=True)
class Cells:
    """Per-cell summaries of values y (n,) in cells: labels (K,) in order of first appearance,
    means (K,), counts (K,), the pooled within-cell variance and its degrees of freedom N - K
    (nan and 0 when no cell has two values)."""

    labels: list
    means: np.ndarray
    counts: np.ndarray
    pooled_var: float
    df: int


def summarize_cells(values, cells):
    """Cells of `values` (n,) grouped by the hashable labels `cells` (n,)."""
    values = np.asarray(values, float)
    codes = label_codes(cells)
    labels = list(dict.fromkeys(cells))
    counts = np.bincount(codes, minlength=len(labels))
    means = np.bincount(codes, values, minlength=len(labels)) / np.maximum(counts, 1)
    df = int(len(values) - len(labels))
    within = float(((values - means[codes]) ** 2).sum())
    return Cells(labels, means, counts, within / df if df > 0 else float("nan"), df)


def t_p(estimate, se, df):
    """Two-sided p of the t statistic estimate / se on df degrees of freedom; with se = 0 (no
    noise at all) 1 for a zero estimate and 0 otherwise; nan where df < 1."""
    if not df >= 1 or not np.isfinite(se):
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
    settings two cells."""

    cells: int  # K
    pairs: int  # n
    delta: float  # the equal-weight mean of the cell means (both questions' estimate)
    se: float  # over these settings: seed-noise standard error of delta
    df: int  # its degrees of freedom, n - K
    ci_low: float
    ci_high: float
    p: float  # the fixed-cells t-test of delta = 0
    across_ci_low: float  # t-interval over the K cell means
    across_ci_high: float
    across_se: float  # sd of the cell means / sqrt(K)
    across_p: float  # exact sign-flip test over the K cell means
    across_p_floor: float  # 2/2^K
    heterogeneity_p: float  # ANOVA F of the level x cell interaction
    cells_won: int  # cells whose seed-noise interval lies above 0
    cells_lost: int  # ... below 0
    per_cell: tuple  # ((label, n_c, mean, low, high), ...) in order of first appearance


def two_questions(values, cells, level=LEVEL):
    """TwoQuestions of the paired differences `values` (n,) in `cells` (n,) (hashable labels:
    tuples of the other factors' levels). Deterministic: the across-settings p is exact up to
    paired.EXACT_MAX_PAIRS cells (Monte Carlo beyond, seeded by the data)."""
    summary = summarize_cells(values, cells)
    means, counts, k, df = summary.means, summary.counts, len(summary.means), summary.df
    n = int(counts.sum())
    delta = float(means.mean()) if k else float("nan")
    s_p = float(np.sqrt(summary.pooled_var))
    se = s_p * float(np.sqrt((1.0 / counts).sum())) / k if df > 0 else float("nan")
    q = stdtrit(df, 0.5 + level / 2) if df > 0 else float("nan")
    half_cell = q * s_p / np.sqrt(counts) if df > 0 else np.full(k, np.nan)
    if k >= 2:
        across_se = float(means.std(ddof=1) / np.sqrt(k))
        across_half = float(stdtrit(k - 1, 0.5 + level / 2) * across_se)
        across_p, _ = sign_flip_p(means, np.random.default_rng(0))  # seeded: beyond 30 cells
    else:
        across_se = across_half = across_p = float("nan")
    return TwoQuestions(
        cells=k,
        pairs=n,
        delta=delta,
        se=se,
        df=df,
        ci_low=delta - q * se,
        ci_high=delta + q * se,
        p=t_p(delta, se, df),
        across_ci_low=delta - across_half,
        across_ci_high=delta + across_half,
        across_se=across_se,
        across_p=float(across_p),
        across_p_floor=exact_floor(k),
        heterogeneity_p=heterogeneity_p(summary),
        cells_won=int(np.sum(means - half_cell > 0)),
        cells_lost=int(np.sum(means + half_cell < 0)),
        per_cell=tuple(
            (label, int(c), float(m), float(m - h), float(m + h))
            for label, c, m, h in zip(summary.labels, counts, means, half_cell)
        ),
    )


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
