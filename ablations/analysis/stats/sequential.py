"""Group-sequential looks at a family of tests: each test's alpha spent over W looks (one per
seed wave), a combined p valid at any stopping time, Holm over the family, and a non-binding
futility rule (numpy and scipy only).

- **Spending** (Lan & DeMets 1983, Biometrika 70(3)): look w spends the share pi_w of a test's
  alpha; pi_1 = FIRST_SHARE, and looks 2..W share the rest in proportion to the increments of
  O'Brien & Fleming's (1979) spending function F(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) at the
  information fractions t_w (default w / W); sum_w pi_w = 1.
- **Combined p**: p* = min(1, min_{w <= v} p_w / pi_w) after look v. By the union bound
  P(p* <= a) <= sum_w P(p_w <= a pi_w) <= a sum_w pi_w = a for every a, whatever the
  dependence between the looks and whenever they stop, so p* is a valid p-value and Holm (1979)
  over a family of p* controls the family-wise error (Holm needs marginal validity only). p*
  never rises, and Holm's adjusted p is monotone in each input: a rejection once made stays.
- **Futility** (non-binding: a stop only removes chances to reject, so it cannot raise the
  error): stop a test when the effect it could detect now is at most FUTILITY_MDE_RATIO x the
  full design's and its conditional power under the current trend is below FUTILITY_POWER
  (stochastic curtailment: Jennison & Turnbull 2000, *Group Sequential Methods with
  Applications to Clinical Trials*, ch. 10; the B-value form of Lan & Wittes 1988, Biometrics
  44(2)). See conditional_power.
- **p_w**, given by the caller (sequential_design: stats.fixed.fixed_cells_se), is the fixed-cells
  t-test of the mean of K cell means on the data so far with per-cell
  variances, SE^2 = sum_c s_c^2 / n_c / K^2, on Welch-Satterthwaite degrees of freedom
  (Satterthwaite 1946, Biometrics Bulletin 2(6)).
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, stdtrit

from .paired import holm

FIRST_SHARE = 0.25  # the share of a test's alpha spent at the first look
FUTILITY_MDE_RATIO = 1.5  # futility only once the MDE is within this factor of the full design's
FUTILITY_POWER = 0.10  # ... and the conditional power is below this
POWER = 0.80  # the power at which a minimum detectable effect is stated
# A look's decision: rejected (now or before), stopped for futility, open, or open at the last look
DECIDED, FUTILE, CONTINUE, FINAL = "decided", "futile", "continue", "final"


def obrien_fleming_spent(t, alpha):
    """Lan & DeMets' O'Brien-Fleming-type spending function: the alpha spent by information
    fraction t (array in [0, 1]), F(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)) = 2 Phi(z_{alpha/2} /
    sqrt(t)), computed in the second form (no cancellation at a tiny alpha); F(0) = 0, F(1) =
    alpha."""
    t = np.asarray(t, float)
    with np.errstate(divide="ignore"):
        return 2.0 * ndtr(ndtri(alpha / 2.0) / np.sqrt(t))


def spending(waves, alpha=0.05, first_share=FIRST_SHARE, fractions=None):
    """pi (..., waves): the share of a test's alpha each look spends, summing to 1 over the
    looks. `fractions` (..., waves): each test's information fractions t_w, non-decreasing in
    [0, 1] and ending at 1 (default w / W); a look where t does not grow (no new data for that
    test) spends nothing. The first look where t grows spends first_share, and the later ones
    where it grows share the rest in proportion to F(t_w) - F(t_{w-1}), F the O'Brien-Fleming
    spending function at `alpha`; a test whose t grows at one look only spends all there."""
    if not isinstance(waves, (int, np.integer)) or waves < 1:
        raise ValueError(f"waves must be an integer >= 1, got {waves!r}")
    if not 0 < first_share < 1:
        raise ValueError(f"first_share must be in (0, 1), got {first_share!r}")
    t = np.arange(1, waves + 1) / waves if fractions is None else np.asarray(fractions, float)
    steps = np.diff(t, prepend=0.0) if t.shape[-1:] == (waves,) else None
    if steps is None or np.any(t < 0) or np.any(t[..., -1] != 1) or np.any(steps < 0):
        raise ValueError(f"fractions must be {waves} non-decreasing values in [0, 1], ending at 1")
    grows = steps > 0
    first = grows & (np.cumsum(grows, axis=-1) == 1)  # the first look where t grows
    increments = np.where(grows & ~first, np.diff(obrien_fleming_spent(t, alpha), prepend=0.0), 0)
    later = increments.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = np.where(later > 0, (1.0 - first_share) * increments / later, 0.0)
    only = grows.sum(axis=-1, keepdims=True) == 1
    return np.where(first, np.where(only, 1.0, first_share), rest)


def final_looks(fractions):
    """(...,) the 1-based look at which each test's information fraction reaches 1: its last
    look, after which no new data come (fractions (..., W) as spending's)."""
    return np.argmax(np.asarray(fractions, float) >= 1.0, axis=-1) + 1


def look_ratios(p, pi):
    """p_w / pi_w elementwise (arrays broadcast), inf where a look spends nothing: no test at it
    (nan p) or no share of alpha (pi 0, a look that brings its test no new seed)."""
    p, pi = np.asarray(p, float), np.asarray(pi, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isnan(p) | (pi == 0), np.inf, p / pi)


def combined_p(p_looks, pi):
    """p* after each look (same shape as p_looks (..., v), v <= len(pi) looks so far):
    min(1, running min over the looks of p_w / pi_w), a look that spends nothing
    (look_ratios) leaving it as it was."""
    p_looks = np.asarray(p_looks, float)
    ratio = look_ratios(p_looks, np.asarray(pi, float)[..., : p_looks.shape[-1]])
    return np.minimum(1.0, np.minimum.accumulate(ratio, -1))


def detectable(se, df, alpha, power=POWER):
    """The effect a two-sided t-test at `alpha` detects with probability `power`, in the usual
    approximation (t_{1-alpha/2, df} + t_{power, df}) SE (Cohen 1988, *Statistical Power
    Analysis*, ch. 2); arrays broadcast."""
    return (stdtrit(df, 1.0 - alpha / 2.0) + stdtrit(df, power)) * se


def conditional_power(estimate, se, se_full, alpha):
    """P(the full design's two-sided z-test at `alpha` rejects | the estimate now), the drift
    set to the current trend (Lan & Wittes 1988; Jennison & Turnbull 2000, sec. 10.2). With
    information fraction t = se_full^2 / se^2 and B(t) = Z(t) sqrt(t) a Brownian motion of drift
    theta (E Z(1) = theta), the current trend theta_hat = B(t) / t gives
    Z(1) | B(t) ~ N(B(t) / t, 1 - t), so CP = Phi((Z(1)_mean - c) / sqrt(1 - t)) +
    Phi((-c - Z(1)_mean) / sqrt(1 - t)), c = z_{1-alpha/2}. At t = 1 the outcome is known (0
    or 1). Normal theory, and only the final look's chance: it understates the design's power,
    which makes futility stop sooner, never invalidly (the rule is non-binding). Arrays
    broadcast."""
    estimate, se, se_full = (np.asarray(a, float) for a in (estimate, se, se_full))
    t = np.minimum(1.0, (se_full / se) ** 2)
    centre = estimate / se / np.sqrt(t)  # E[Z(1) | now] = B(t) / t
    c = ndtri(1.0 - alpha / 2.0)
    spread = np.sqrt(1.0 - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        cp = ndtr((centre - c) / spread) + ndtr((-c - centre) / spread)
    return np.where(t >= 1.0, (np.abs(centre) > c).astype(float), cp)


def futile(mde_now, mde_full, cp):
    """The futility rule: MDE now <= FUTILITY_MDE_RATIO x the full design's and conditional
    power < FUTILITY_POWER. Arrays broadcast; nan is never futile."""
    return (np.asarray(mde_now) <= FUTILITY_MDE_RATIO * np.asarray(mde_full)) & (
        np.asarray(cp) < FUTILITY_POWER
    )


@dataclass(frozen=True)
class Look:
    """One look at one test: after `wave` (1-based) of `waves`, its p_w, the share pi_w of alpha
    that look spends, p* so far and the decision (DECIDED, FUTILE, CONTINUE or FINAL)."""

    wave: int
    waves: int
    p: float
    pi: float
    p_star: float
    decision: str


def holm_rejects(p, alpha):
    """Holm's (1979) step-down rejections at family-wise level `alpha` over the last axis of p
    (..., m): where paired.holm's adjusted p is <= alpha. nan entries are outside the family (m
    counts the finite ones) and never rejected."""
    with np.errstate(invalid="ignore"):
        return holm(p) <= alpha


@dataclass(frozen=True)
class FamilyLooks:
    """The looks at a family: p_star (..., m, W) after each look; decided (..., m) whether Holm
    over the current p* rejected the test at some look; decided_wave and futile_wave (..., m)
    the 1-based wave of that rejection or of a futility stop (0: none); final_wave (..., m) each
    test's last look (final_looks: where its information is complete), where a test neither
    rejected nor stopped before closes; pi (..., m, W) each look's share of its test's alpha."""

    p_star: np.ndarray
    decided: np.ndarray
    decided_wave: np.ndarray
    futile_wave: np.ndarray
    final_wave: np.ndarray
    pi: np.ndarray

    @property
    def closed_wave(self):
        """(..., m) the 1-based wave at which each test closed: rejected, stopped for futility,
        or at its final look."""
        return np.where(
            self.decided_wave > 0,
            self.decided_wave,
            np.where(self.futile_wave > 0, self.futile_wave, self.final_wave),
        )


def family_looks(estimate, se, df, p, alpha, fractions=None):
    """Look at a family of m tests after each of W waves. Arrays (..., m, W): each test's
    estimate, SE, df and p on the data up to that wave; `fractions` (W,) or (..., m, W): each
    test's information fractions (spending's; default w / W). At look w an open test gets p*_w
    (a look where its information does not grow spends nothing); Holm at `alpha` over the
    family's current p* (closed tests included: their p* stays) rejects; an open test not
    rejected before its final look (final_looks) stops for futility when its MDE now at Holm's
    first threshold alpha / m is at most FUTILITY_MDE_RATIO x the full design's, projected from
    now as SE_full = SE_w sqrt(t_w), and its conditional power at level pi_final alpha / m is
    below FUTILITY_POWER; at its final look it closes. Closing a test unrejected only removes
    chances to reject, so the error stays controlled. Returns FamilyLooks."""
    p = np.asarray(p, float)
    m, waves = p.shape[-2], p.shape[-1]
    t = np.arange(1, waves + 1) / waves if fractions is None else np.asarray(fractions, float)
    t = np.broadcast_to(t, p.shape)
    pi = spending(waves, alpha, fractions=t)
    final = final_looks(t)
    first = alpha / m
    se_full = np.asarray(se, float) * np.sqrt(t)
    df = np.asarray(df, float)
    mde_ratio_ok = futile(
        detectable(se, df, first), detectable(se_full, df, first), np.zeros(p.shape)
    )
    pi_final = np.take_along_axis(pi, final[..., None] - 1, axis=-1)
    cp = conditional_power(estimate, se, se_full, pi_final * first)
    stops_for_futility = mde_ratio_ok & (cp < FUTILITY_POWER)
    shape = p.shape[:-1]
    current = np.ones(shape)
    stars = np.empty(p.shape)
    decided_wave, futile_wave = np.zeros(shape, int), np.zeros(shape, int)
    for w in range(waves):
        open_ = (decided_wave == 0) & (futile_wave == 0) & (w < final)
        ratio = look_ratios(p[..., w], pi[..., w])
        current = np.where(open_, np.minimum(current, np.minimum(1.0, ratio)), current)
        stars[..., w] = current
        rejected = holm_rejects(current, alpha)
        decided_wave = np.where(open_ & rejected, w + 1, decided_wave)
        still = open_ & ~rejected
        futile_wave = np.where(
            still & stops_for_futility[..., w] & (w + 1 < final), w + 1, futile_wave
        )
    return FamilyLooks(stars, decided_wave > 0, decided_wave, futile_wave, final, pi)
