"""The sequential design's decision engine, pure: from a frame of records, the family of tests a
sequential grid decides, each test's looks so far, its decision, and the runs the next wave needs.
Nothing is trained or written here; the wave runner (ablations/waves.py) and replays call it.

Interface:

    state = sequential_state(data, wave_of, waves, alpha=0.05)

- `data`: a report.frame.ReportData whose `df` lists every final run of the grid, a run without
  a record as status "pending" (report.frame.load_data of results/<grid>/ once grid.json lists
  the grid's final runs, or with the wave runner's `runs`: the finals known so far and, under a
  stand-in id, each final still waiting for its cell's tuning; or a frame built by hand: the
  columns run_id, dataset, seed, one per factor, status, test_acc, s_per_epoch).
- `wave_of`: {final seed: wave 1..W} (grid.design.seed_waves); `waves`: W.
- Returns a SequentialState: `wave` (looks taken so far, 0..W), `tests` (one TestLooks per test,
  in the report's order), `needs` (the run ids an open test needs in wave + 1; empty when every
  test is closed or wave = W), `waiting` (those without a result: what to train next),
  `planned` and `finished` runs, and `log()`: the dict of results/<grid>/sequential.json.

The family is the report's (report/contrasts.py), each test asked over these settings only:
every level against its factor's baseline per dataset and regime, and every change of such a
contrast between two regimes on matched cells and seeds (a change is in the family whether or not
its pairs exist yet: membership is set by the design, never by the data). Each test is the
report's fixed-cells t-test (stats.fixed.fixed_cells_se, Welch-Satterthwaite where every cell has
two values, else pooled, and cells.t_p) on the pairs whose seed is in waves 1..w: the same test on
fewer seeds, equal to the report's `p` once every seed is in.

What a test rests on is the design's: its planned pairs are the pairs report.contrasts'
family frames make once every planned run of the grid has a result (`as_planned`), each resting
on its runs (a contrast's level and baseline run, a change's four: its matched cells and seeds in
both regimes). Its information fraction after wave w is the share of its planned seeds in waves
1..w, so a test whose seeds all fall in the first waves (the tuned regime's 5 seeds in a grid
whose tuned_long regime has 10) reaches its full information, and its final look, there.

Looks (stats/sequential.py): look w spends the share pi_w of each test's alpha (25% at its first
look, the rest in O'Brien-Fleming shape over its information fractions; a look that brings it no
new seed spends nothing), p* = min(1, min_{v<=w} p_v / pi_v), Holm at `alpha` over the family's
current p* (sequential.family_looks), and the non-binding futility stop. A test is closed once
rejected ("beats" or "trails" by the sign of its estimate at that look), stopped for futility
("not distinguishable (futility)"), or at its final look ("not distinguishable", or "cannot
test" where it never had a test); open before, "undecided".

Look w is taken once every run that a test open after look w - 1 needs in wave w has a result
(a divergence is one; an error is not: it trains again, as the runner retries it), so a pending
change keeps training the runs of its matched pairs. Before that, a test whose own runs of wave
w are all in is decided there when look w is sure to reject it (`ahead_of_the_look`): its
verdict need not wait for the rest of the family's runs, and it is the one look w gives.
Everything is a function of the records and the design: the same records give the same state
whatever trained them, and a killed session resumes at the same look.
"""

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from .report.columns import REGIME, SPLIT
from .report.contrasts import family_frames, run_columns
from .stats.cells import detectable_effect, summarize_cells, t_p
from .stats.fixed import fixed_cells_se, fixed_model
from .stats.sequential import (
    CONTINUE,
    DECIDED,
    FINAL,
    FUTILE,
    Look,
    combined_p,
    family_looks,
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
    `frame` (indexed by seed, then the other factors' levels; column diff, points),
    `planned`: {seed: the run ids its pairs of that seed rest on once every planned run has a
    result} and `planned_pairs`: {seed: how many pairs of that seed} (the design's pairs,
    whatever has trained)."""

    key: tuple
    frame: object
    planned: dict
    planned_pairs: dict

    def fractions(self, wave_of, waves):
        """(waves,) its information fractions: the share of its planned seeds in waves 1..w
        (ones for a test with none: it has nothing to wait for)."""
        waves_of = np.array([wave_of[s] for s in self.planned if s in wave_of], int)
        if not len(waves_of):
            return np.ones(waves)
        return np.cumsum(np.bincount(waves_of, minlength=waves + 1)[1:]) / len(waves_of)

    @property
    def runs(self):
        """How many runs its planned pairs rest on."""
        return sum(map(len, self.planned.values()))

    def pairs_in_wave(self, wave_of, wave):
        """How many of its planned pairs have their seed in `wave`."""
        return sum(n for seed, n in self.planned_pairs.items() if wave_of.get(seed) == wave)

    def runs_in_wave(self, wave_of, wave):
        """The run ids its planned pairs of the seeds in `wave` rest on."""
        return frozenset().union(
            *(runs for seed, runs in self.planned.items() if wave_of.get(seed) == wave)
        )

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
    current wave), estimate/se/df per look (points), its information fractions and each look's
    share pi of its alpha (every wave of the design), the pairs its last look used, decision
    (BEATS ... UNDECIDED), the wave it closed at (0: open), mde: the effect its last look's test
    detects with 80% power at Holm's first threshold alpha / m (stats.cells.detectable_effect),
    runs: the runs its planned pairs rest on, and freed: those in the waves after its close (0
    while open)."""

    key: tuple
    name: str
    looks: tuple
    estimates: tuple
    ses: tuple
    dfs: tuple
    fractions: tuple
    pi: tuple
    pairs: int
    decision: str
    closed_wave: int
    mde: float
    runs: int
    freed: int


@dataclass(frozen=True)
class SequentialState:
    """Where a sequential grid stands: see the module docstring."""

    wave: int
    waves: int
    alpha: float
    tests: tuple
    wave_of: dict
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
        "fractions": list(test.fractions),
        "pi": list(test.pi),
        "runs": test.runs,
        "freed": test.freed,
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


def as_planned(data):
    """`data` with every planned run counted as finished (status ok, a placeholder accuracy):
    the frame whose family frames pair what the design will pair."""
    df = data.df.assign(status="ok", test_acc=data.df["test_acc"].fillna(0.0), s_per_epoch=0.0)
    return replace(data, df=df)


def planned_runs(kind, frame):
    """({seed: frozenset of run ids}, {seed: pairs}) of a family frame of `kind`
    (report.contrasts.run_columns)."""
    seeds = frame.index.get_level_values(0) if frame.index.nlevels > 1 else frame.index
    runs_of, pairs = {}, {}
    for seed, runs in zip(seeds, frame[run_columns(kind)].to_numpy()):
        runs_of[int(seed)] = runs_of.get(int(seed), frozenset()) | frozenset(runs)
        pairs[int(seed)] = pairs.get(int(seed), 0) + 1
    return runs_of, pairs


def family_tests(data):
    """[FamilyTest]: the report's contrasts, then its changes between regimes, in the order of
    report.contrasts.family_frames, each with the runs its planned pairs rest on (a change's:
    its matched cells and seeds in both regimes, not every cell of its two contrasts)."""
    tests = []
    frames = zip(family_frames(data), family_frames(as_planned(data)), strict=True)
    for (kind, key, _, frame), (_, planned_key, _, planned) in frames:
        if planned_key != key:
            raise ValueError(f"the planned family differs from the records' at {key}")
        tests.append(FamilyTest((kind, *key), frame, *planned_runs(kind, planned)))
    return tests


def first_wave_slices(tests, wave_of, first=()):
    """Wave 1's runs a test at a time, the order the wave runner trains them in: [(FamilyTest,
    frozenset of run ids)], the `tests` (FamilyTest) of the levels in `first` ({(factor,
    level)}: those a session adds, the question it asks) before the others, and within each,
    the test with the most planned pairs in wave 1 first (ties in family order); each slice the
    run ids its test's wave-1 pairs rest on that no earlier slice holds, a test left with none
    left out. Each slice ends where its test's look 1 can be taken ahead of the others'
    (ahead_of_the_look), so the test whose look 1 has the most pairs, and the most power,
    comes first."""
    ranked = sorted(
        range(len(tests)),
        key=lambda i: (tests[i].key[4:6] not in first, -tests[i].pairs_in_wave(wave_of, 1)),
    )
    slices, held = [], set()
    for i in ranked:
        runs = tests[i].runs_in_wave(wave_of, 1) - held
        if runs:
            slices.append((tests[i], runs))
            held |= runs
    return slices


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


def sequential_state(data, wave_of, waves, alpha=ALPHA, tests=None):
    """The SequentialState of `data` under the design (`wave_of`, `waves`, `alpha`); `tests`:
    family_tests(data) where the caller has it already."""
    tests = family_tests(data) if tests is None else tests
    m = len(tests)
    fractions = np.array([t.fractions(wave_of, waves) for t in tests]).reshape(m, waves)
    arrays = np.full((4, m, waves), np.nan)  # estimate, se, df, p per test and look
    pairs = np.zeros((m, waves), int)
    df = data.df
    pending_rows = df["status"].isna() | df["status"].isin(["pending", "error"])  # errors retrain
    pending = set(df.loc[pending_rows, "run_id"])
    closed = np.zeros(m, bool)
    looks = None
    wave, needs, waiting = 0, frozenset(), ()
    while wave < waves and not closed.all():
        needs = frozenset().union(
            *(t.runs_in_wave(wave_of, wave + 1) for t, c in zip(tests, closed) if not c)
        )
        waiting = tuple(r for r in dict.fromkeys(df["run_id"]) if r in needs and r in pending)
        if waiting:
            break
        wave += 1
        for i, test in enumerate(tests):
            if not closed[i]:
                *arrays[:, i, wave - 1], pairs[i, wave - 1] = test.at_wave(wave_of, wave)
        looks = family_looks(*arrays, alpha, fractions=fractions)
        closed = looks.closed_wave <= wave
    first = alpha / max(m, 1)
    results = [
        test_looks(test, i, looks, arrays, pairs, fractions[i], wave_of, wave, first)
        for i, test in enumerate(tests)
    ]
    if waiting:
        ahead = ahead_of_the_look(
            tests, closed, arrays, pairs, fractions, wave, wave_of, pending, alpha
        )
        if ahead is not None:
            early, early_arrays, early_pairs, early_looks = ahead
            for i in early:
                results[i] = test_looks(
                    tests[i],
                    i,
                    early_looks,
                    early_arrays,
                    early_pairs,
                    fractions[i],
                    wave_of,
                    wave + 1,
                    first,
                )
    else:
        needs = frozenset()
    results = tuple(results)
    return SequentialState(
        wave,
        waves,
        alpha,
        results,
        dict(wave_of),
        needs,
        waiting,
        int(df["run_id"].nunique()),
        int(df.loc[~pending_rows, "run_id"].nunique()),
    )


def ahead_of_the_look(tests, closed, arrays, pairs, fractions, wave, wave_of, pending, alpha):
    """The tests that look `wave` + 1 will reject, known before that look is taken: (their
    indices, the looks' arrays and pairs with their column wave + 1 filled, the FamilyLooks
    that rejected them), or None. A test open after look `wave` whose own runs of wave + 1 all
    have a result gets its p there; Holm over that p* and every other test's current p* (which
    the look can only lower: Holm's adjusted p is monotone in each input) rejecting it means
    the look rejects it too, whatever the runs still to come. Nothing else is decided ahead:
    a futility stop or a close unrejected could still turn into a rejection at the look.
    `fractions` (m, W): the tests' information fractions."""
    ready = [
        i
        for i, test in enumerate(tests)
        if not closed[i] and not test.runs_in_wave(wave_of, wave + 1) & pending
    ]
    if not ready:
        return None
    arrays, pairs = arrays.copy(), pairs.copy()
    for i in ready:
        *arrays[:, i, wave], pairs[i, wave] = tests[i].at_wave(wave_of, wave + 1)
    looks = family_looks(*arrays, alpha, fractions=fractions)
    early = [i for i in ready if looks.decided_wave[i] == wave + 1]
    return (early, arrays, pairs, looks) if early else None


def test_looks(test, i, looks, arrays, pairs, fractions, wave_of, wave, first_threshold):
    """The TestLooks of test i after `wave` looks (`looks`: family_looks' result, None at 0;
    `fractions`: its information fractions)."""
    fractions = tuple(map(float, fractions))
    if looks is None:
        nothing = dict(looks=(), estimates=(), ses=(), dfs=(), pi=(), pairs=0, closed_wave=0)
        return TestLooks(
            test.key,
            test.name,
            fractions=fractions,
            decision=UNDECIDED,
            mde=np.nan,
            runs=test.runs,
            freed=0,
            **nothing,
        )
    decided, futile = int(looks.decided_wave[i]), int(looks.futile_wave[i])
    final = int(looks.final_wave[i])
    closed = int(looks.closed_wave[i]) if looks.closed_wave[i] <= wave else 0
    last = closed or wave
    estimate, se, df, p = arrays[:, i, :last]
    pi = looks.pi[i]
    records = tuple(
        Look(
            w + 1,
            final,
            float(p[w]),
            float(pi[w]),
            float(looks.p_star[i, w]),
            DECIDED
            if decided == w + 1
            else FUTILE
            if futile == w + 1
            else FINAL
            if w + 1 == final
            else CONTINUE,
        )
        for w in range(last)
    )
    if decided:
        decision = BEATS if estimate[decided - 1] > 0 else TRAILS
    elif futile:
        decision = FUTILITY
    elif not closed:
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
        fractions,
        tuple(map(float, pi)),
        int(pairs[i, last - 1]),
        decision,
        closed,
        detectable_effect(se[-1], df[-1], first_threshold),
        test.runs,
        sum(len(runs) for s, runs in test.planned.items() if closed and wave_of.get(s, 0) > closed),
    )


def recompute_p_star(looks):
    """p* after each look of a look-log test entry, from its p and pi alone
    (stats.sequential.combined_p, the arithmetic family_looks uses; a missing p is nan)."""
    if not looks:
        return []
    p = [np.nan if look["p"] is None else look["p"] for look in looks]
    return [float(x) for x in combined_p(p, [look["pi"] for look in looks])]
