"""The sequential design's decision engine, pure: from a frame of records, the family of tests a
sequential grid decides, each test's looks so far, its decision, and the runs the next wave needs.
Nothing is trained or written here; the wave runner (ablations/waves.py) and replays call it.

Interface:

    state = sequential_state(data, wave_of, waves, alpha=0.05)

- `data`: a report.frame.ReportData whose `df` lists every final run of the grid, a run without
  a record as status "pending" (report.frame.load_data of results/<grid>/ once grid.json lists
  the grid's final runs, or a frame built by hand: the columns run_id, dataset, seed, one per
  factor, status, test_acc, s_per_epoch).
- `wave_of`: {final seed: wave 1..W} (grid.design.seed_waves); `waves`: W.
- Returns a SequentialState: `wave` (looks taken so far, 0..W), `tests` (one TestLooks per test,
  in the report's order), `needs` (the cells, (dataset, *one level per factor), that an open
  test needs at wave + 1; empty when every test is closed or wave = W), `waiting` (the run ids of
  those cells in wave + 1 without a record: what to train next), `planned` and `finished` runs,
  and `log()`: the dict of results/<grid>/sequential.json.

The family is the report's (report/contrasts.py), each test asked over these settings only:
every level against its factor's baseline per dataset and regime, and every change of such a
contrast between two regimes on matched cells and seeds (a change is in the family whether or not
its pairs exist yet: membership is set by the design, never by the data). Each test is the
report's fixed-cells t-test (stats.fixed.fixed_cells_se, Welch-Satterthwaite where every cell has
two values, else pooled, and cells.t_p) on the pairs whose seed is in waves 1..w: the same test on
fewer seeds, equal to the report's `p` once every seed is in.

Looks (stats/sequential.py): look w spends the share pi_w of each test's alpha (25% at the first
look, the rest in O'Brien-Fleming shape over the information fractions, the share of the seeds in
waves 1..w), p* = min(1, min_{v<=w} p_v / pi_v), Holm at `alpha` over the family's current p*
(sequential.family_looks), and the non-binding futility stop. A test is closed once rejected
("beats" or "trails" by the sign of its estimate at that look) or stopped for futility ("not
distinguishable (futility)"); open at the last look it is "not distinguishable" (or "cannot test"
where it never had a test); open before it, "undecided".

Look w is taken once every run that a test open after look w - 1 needs in wave w has a result
(a divergence is one; an error is not: it trains again, as the runner retries it); the cells of a test are the
configurations on both sides of it (for a change, of both contrasts in both regimes), so a
pending change keeps training the cells it needs. Everything is a function of the records and
the design: the same records give the same state whatever trained them, and a killed session
resumes at the same look.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .report.columns import REGIME, REPLICATE, SPLIT
from .report.contrasts import family_frames
from .stats.cells import detectable_effect, summarize_cells, t_p
from .stats.fixed import fixed_cells_se, fixed_model
from .stats.sequential import (
    CONTINUE,
    DECIDED,
    FINAL,
    FUTILE,
    Look,
    family_looks,
    spending,
)

ALPHA = 0.05
BEATS, TRAILS = "beats", "trails"
FUTILITY = "not distinguishable (futility)"
NOT_DISTINGUISHABLE, CANNOT_TEST, UNDECIDED = "not distinguishable", "cannot test", "undecided"
CLOSED = (BEATS, TRAILS, FUTILITY)
KEY_FIELDS = ("kind", SPLIT, REGIME, "from_regime", "factor", "level", "baseline")


@dataclass(frozen=True)
class FamilyTest:
    """One test of the family before any look: its key (KEY_FIELDS), its paired differences
    `frame` (indexed by seed, then the other factors' levels; column diff, points) and the cells
    (dataset, *factor levels) on both of its sides."""

    key: tuple
    frame: object
    cells: frozenset

    @cached_property
    def pairs(self):
        """(values (n,), cell labels (n,), seeds (n,)) of the pairs with a difference."""
        paired = self.frame.dropna(subset=["diff"])
        index = paired.index
        deep = index.nlevels > 1
        keys = [tuple(k[1:]) for k in index] if deep else [()] * len(paired)
        seeds = index.get_level_values(0) if deep else index
        return paired["diff"].to_numpy(float), keys, list(seeds)

    def at_wave(self, wave_of, wave):
        """over_these_settings of the pairs whose seed is in waves 1..wave."""
        values, keys, seeds = self.pairs
        kept = [i for i, s in enumerate(seeds) if wave_of.get(s, np.inf) <= wave]
        return over_these_settings(values[kept], [keys[i] for i in kept])

    @property
    def name(self):
        kind, dataset, regime, from_regime, factor, level, base = self.key
        where = dataset if regime is None else f"{dataset}, {regime}"
        if kind == "change":
            where = f"{dataset}, {from_regime} -> {regime}"
        return f"{kind}: {factor} {level} vs {base} ({where})"


@dataclass(frozen=True)
class TestLooks:
    """A test's looks so far: key (KEY_FIELDS), looks (Look per wave up to its close or the
    current wave), estimate/se/df per look (points), decision (BEATS ... UNDECIDED), the wave it
    closed at (0: open), the pairs its last look used, and mde: the effect its last look's test
    detects with 80% power at Holm's first threshold alpha / m (stats.cells.detectable_effect)."""

    key: tuple
    name: str
    looks: tuple
    estimates: tuple
    ses: tuple
    dfs: tuple
    pairs: int
    decision: str
    closed_wave: int
    mde: float


@dataclass(frozen=True)
class SequentialState:
    """Where a sequential grid stands: see the module docstring."""

    wave: int
    waves: int
    alpha: float
    pi: tuple
    fractions: tuple
    wave_of: dict
    tests: tuple
    needs: frozenset
    waiting: tuple
    planned: int
    finished: int

    @property
    def undecided(self):
        return sum(t.decision == UNDECIDED for t in self.tests)

    def log(self):
        """The look log, results/<grid>/sequential.json (nan as None)."""
        return {
            "waves": self.waves,
            "wave": self.wave,
            "alpha": self.alpha,
            "pi": list(self.pi),
            "fractions": list(self.fractions),
            "seed_waves": [[seed, w] for seed, w in self.wave_of.items()],
            "family_size": len(self.tests),
            "undecided": self.undecided,
            "runs_planned": self.planned,
            "runs_finished": self.finished,
            "tests": [test_entry(t) for t in self.tests],
        }


def number(x):
    """A float for JSON: None for nan or inf."""
    return float(x) if np.isfinite(x) else None


def test_entry(test):
    """One test of the look log."""
    return {
        **dict(zip(KEY_FIELDS, test.key)),
        "name": test.name,
        "decision": test.decision,
        "closed_wave": test.closed_wave,
        "pairs": test.pairs,
        "mde": number(test.mde),
        "looks": [
            {
                "wave": look.wave,
                "p": number(look.p),
                "pi": look.pi,
                "p_star": look.p_star,
                "decision": look.decision,
                "estimate": number(e),
                "se": number(s),
                "df": number(d),
            }
            for look, e, s, d in zip(test.looks, test.estimates, test.ses, test.dfs)
        ],
    }


def run_cells(data):
    """(n,) object array: each planned run's cell, (dataset, its level of each factor), the
    configuration without the seed."""
    cells = np.empty(len(data.df), object)
    cells[:] = list(zip(data.df[SPLIT], *(data.df[f] for f in data.factors)))
    return cells


def side_cells(data, cells, dataset, regime, factor, levels):
    """The cells of every planned run of `dataset` and `regime` at one of `levels` of `factor`
    (`cells`: run_cells(data))."""
    df = data.df
    rows = (df[SPLIT] == dataset) & df[factor].isin(levels)
    if regime is not None:
        rows &= df[REGIME] == regime
    return frozenset(cells[rows.to_numpy()])


def family_tests(data):
    """[FamilyTest]: the report's contrasts, then its changes between regimes, in the order of
    report.contrasts.family_frames; a change needs the cells of both its contrasts."""
    tests, cells, of_run = [], {}, run_cells(data)
    for kind, key, _, frame in family_frames(data):
        dataset, regime, first, factor, level, base = key
        if kind == "contrast":
            cells[key] = side_cells(data, of_run, dataset, regime, factor, [level, base])
            tests.append(FamilyTest((kind, *key), frame, cells[key]))
        else:
            one, two = ((dataset, r, None, factor, level, base) for r in (first, regime))
            tests.append(FamilyTest((kind, *key), frame, cells[one] | cells[two]))
    return tests


def over_these_settings(values, keys):
    """(estimate, se, df, p, pairs) of the report's fixed-cells t-test (stats.cells.two_questions'
    over-these-settings part) of paired differences `values` (n,) in cells `keys` (n,)."""
    if not len(values):
        return np.nan, np.nan, np.nan, np.nan, 0
    summary = summarize_cells(values, keys)
    k = len(summary.means)
    squares = np.bincount(summary.codes, values**2, minlength=k)
    sums = np.bincount(summary.codes, values, minlength=k)
    model = fixed_model(summary.counts)
    delta, se, df = (float(x) for x in fixed_cells_se(sums, squares, summary.counts, model))
    return delta, se, df, t_p(delta, se, df), len(values)


def sequential_state(data, wave_of, waves, alpha=ALPHA):
    """The SequentialState of `data` under the design (`wave_of`, `waves`, `alpha`)."""
    tests = family_tests(data)
    m = len(tests)
    fractions = design_fractions(wave_of, waves)
    pi = spending(waves, alpha, fractions=fractions)
    arrays = np.full((4, m, waves), np.nan)  # estimate, se, df, p per test and look
    pairs = np.zeros((m, waves), int)
    df = data.df
    pending = df["status"].isna() | df["status"].isin(["pending", "error"])  # errors retrain
    seed_wave = df[REPLICATE].map(lambda s: wave_of.get(s, 0)).to_numpy()
    cells = run_cells(data)
    closed = np.zeros(m, bool)
    looks = None
    wave, needs, waiting = 0, frozenset(), ()
    while True:
        needs = frozenset().union(*(t.cells for t, c in zip(tests, closed) if not c))
        if wave == waves or not needs:
            needs, waiting = frozenset(), ()
            break
        in_next = (seed_wave == wave + 1) & np.array([c in needs for c in cells], bool)
        waiting = tuple(df["run_id"][in_next & pending])
        if waiting:
            break
        wave += 1
        for i, test in enumerate(tests):
            if not closed[i]:
                *arrays[:, i, wave - 1], pairs[i, wave - 1] = test.at_wave(wave_of, wave)
        looks = family_looks(*arrays, alpha, fractions=fractions)
        closed = (looks.decided_wave > 0) | (looks.futile_wave > 0)
    results = tuple(
        test_looks(test, i, looks, arrays, pairs, pi, wave, waves, alpha / max(m, 1))
        for i, test in enumerate(tests)
    )
    return SequentialState(
        wave,
        waves,
        alpha,
        tuple(float(x) for x in pi),
        tuple(float(x) for x in fractions),
        dict(wave_of),
        results,
        needs,
        waiting,
        int(df["run_id"].nunique()),
        int(df.loc[~pending, "run_id"].nunique()),
    )


def design_fractions(wave_of, waves):
    """(waves,) information fractions: the share of the seeds in waves 1..w."""
    counts = np.bincount(np.asarray(list(wave_of.values()), int), minlength=waves + 1)[
        1 : waves + 1
    ]
    return np.cumsum(counts) / counts.sum()


def test_looks(test, i, looks, arrays, pairs, pi, wave, waves, first_threshold):
    """The TestLooks of test i after `wave` looks (`looks`: family_looks' result, None at 0)."""
    if looks is None:
        return TestLooks(test.key, test.name, (), (), (), (), 0, UNDECIDED, 0, np.nan)
    decided, futile = int(looks.decided_wave[i]), int(looks.futile_wave[i])
    last = min(wave, decided or futile or wave)
    estimate, se, df, p = arrays[:, i, :last]
    records = tuple(
        Look(
            w + 1,
            waves,
            float(p[w]),
            float(pi[w]),
            float(looks.p_star[i, w]),
            DECIDED
            if decided == w + 1
            else FUTILE
            if futile == w + 1
            else FINAL
            if w + 1 == waves
            else CONTINUE,
        )
        for w in range(last)
    )
    if decided:
        decision = BEATS if estimate[decided - 1] > 0 else TRAILS
    elif futile:
        decision = FUTILITY
    elif wave < waves:
        decision = UNDECIDED
    else:
        decision = NOT_DISTINGUISHABLE if np.isfinite(se[-1]) else CANNOT_TEST
    return TestLooks(
        test.key,
        test.name,
        records,
        tuple(map(float, estimate)),
        tuple(map(float, se)),
        tuple(map(float, df)),
        int(pairs[i, last - 1]),
        decision,
        decided or futile or (waves if wave == waves else 0),
        detectable_effect(se[-1], df[-1], first_threshold),
    )


def recompute_p_star(looks):
    """p* after each look of a look-log test entry, from its p and pi alone: min(1, running min
    of p_w / pi_w), a missing p spending nothing (stats.sequential.family_looks' arithmetic)."""
    current, out = 1.0, []
    for look in looks:
        ratio = np.inf if look["p"] is None else look["p"] / look["pi"]
        current = float(min(current, min(1.0, ratio)))
        out.append(current)
    return out
