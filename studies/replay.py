"""Replays of the committed results/default records (issue 29), training nothing: what the lr hill
climb and the sequential design would have done had each level of the default grid been added
last, measured on the records the full design left.

- **hill_replay**: the default grid's tuned blocks with "search": "hill", each climb starting at
  its optimizer's defaults-regime lr, planned by run.tuning.plan_grid from the tuning records:
  each cell's selection against the full list's, and the recorded wall_time_s of the visited
  trials against every trial's.
- **sequential_replay**: each existing non-baseline level in turn as the new entry, under seeded
  seed orders (each block's seeds permuted within the block that first lists them, then split
  into waves by grid.design.seed_waves) and cell orders (the order the runs of a phase are
  dispatched): the sequential design's decisions (analysis/sequential_design.py's engine) against
  the full design's verdicts (the report's contrast family), and the simulated wall time on
  `workers` workers, each run costing its recorded wall_time_s, greedy list scheduling within a
  phase and a barrier between phases (run.tuning.run_tuned_grid and waves.run_sequential_grid
  train phase by phase).

Why the engine's decisions can be taken from the complete records: a test's look at wave w uses
only the pairs whose seed is in waves 1..w, and a test open at look w was open at every earlier
look, so every run of its cells in those waves was trained; the looks, and so the decisions, are
the same whether the runs of later waves exist or not. The engine is therefore called on the full
records: its FamilyTest.at_wave for each test and seed set (cached: the orders share them), and
stats.sequential.family_looks once per order over all W looks, which equals its wave-by-wave
loop (family_looks is causal, and a closed test's p* stays). tests/test_sequential_replay.py
checks that against sequential_design.sequential_state on whole orders.

The phases of a new level L in the full design (run.tuning.run_tuned_grid): (1) the tuning runs
of L's tuned cells with L's final runs that need no tuning of their own; (k) the finals of each
cell whose tuning ended in phase k - 1. The sequential design (waves.run_sequential_grid):
wave 1 a test at a time in sequential_design.first_wave_slices' order, L's tests first, each
slice the tuning runs of the cells its finals need and no earlier slice tuned (a hill climb:
its start and neighbours, then one phase per step), then its wave-1 finals (a test of L is
decided ahead of look 1 at the end of the first slice after which Holm rejects it at look 1
with every test still waiting for one of L's wave-1 runs not yet looked at: `ahead`), then one
phase per wave w >= 2: L's runs of seeds in wave w that a test open after look w - 1 needs (sequential_design's `needs`: the runs an open test's planned
pairs of that wave rest on). `python -m studies.replay` prints both replays.
"""

import copy
import heapq
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ablations.analysis import sequential_design as sd
from ablations.analysis.report.columns import REGIME, REPLICATE, SPLIT
from ablations.analysis.report.contrasts import ACROSS, AVERAGE
from ablations.analysis.report.frame import load_data
from ablations.analysis.stats.sequential import family_looks
from ablations.grid.design import seed_waves
from ablations.records.store import TUNING_FILE, load_record
from ablations.run.tuning import plan_grid

from . import GRIDS
from .showcase import OPTIMIZER_LEVELS

RESULTS = Path(__file__).resolve().parents[1] / "results"
DEFAULTS_LR = {level["optimizer"]: level["lr"] for level in OPTIMIZER_LEVELS}
SIGNIFICANT, NONE = ("beats", "trails"), "not distinguishable"  # a verdict's category


# ---- the hill climb ----------------------------------------------------------------------------


def hill_blocks(grid="default"):
    """GRIDS[grid] with every tuned block climbing from its optimizer's defaults-regime lr."""
    blocks = copy.deepcopy(GRIDS[grid])
    for block in blocks:
        if "tune" in block:
            block["tune"]["search"] = "hill"
            for level in block["axes"]["optimizer"]:
                level["tune"]["start"] = {"lr": DEFAULTS_LR[level["optimizer"]]}
    return blocks


@dataclass(frozen=True)
class HillCell:
    """One tuned cell replayed: its labels, the full list's selection (tuning.json) and the hill
    climb's, the visited candidates in visiting order and the trials' run ids by candidate."""

    cell: dict
    full: dict
    hill: dict
    visited: list  # settings, in visiting order
    first_step: int  # how many of `visited` the climb's first phase trains (start, neighbours)
    run_ids: dict  # key(settings) -> the trial's run ids, every candidate
    wall_s: dict  # run id -> recorded wall_time_s

    @property
    def hill_wall_s(self):
        return sum(self.wall_s[r] for s in self.visited for r in self.run_ids[key(s)])

    @property
    def full_wall_s(self):
        return sum(self.wall_s[r] for ids in self.run_ids.values() for r in ids)

    @property
    def hill_runs(self):
        return sum(len(self.run_ids[key(s)]) for s in self.visited)

    @property
    def full_runs(self):
        return sum(len(ids) for ids in self.run_ids.values())

    def phases(self, hill):
        """The climb's (hill) or the full list's (not hill) tuning runs, phase by phase."""
        if not hill:
            return [[r for ids in self.run_ids.values() for r in ids]]
        steps = [self.visited[: self.first_step]] + [[s] for s in self.visited[self.first_step :]]
        return [[r for s in step for r in self.run_ids[key(s)]] for step in steps]


def key(settings):
    """A trial's settings as a dict key."""
    return json.dumps(settings, sort_keys=True)


def hill_replay(folder=RESULTS / "default", grid="default"):
    """[HillCell] of every tuned cell of the grid, in tuning.json's order."""
    folder = Path(folder)
    full = json.loads((folder / TUNING_FILE).read_text())
    records = {rid: load_record(folder / f"{rid}.json")[0] for rid in full["tuning_run_ids"]}
    wall = {rid: record["wall_time_s"] for rid, record in records.items()}
    plan = plan_grid(grid, hill_blocks(grid), records)
    if plan.pending_finals:
        raise ValueError(f"{folder}: a hill climb visits a candidate without a record")
    out = []
    for full_cell, hill_cell in zip(full["cells"], plan.cells, strict=True):
        if hill_cell["cell"] != full_cell["cell"]:
            raise ValueError(f"{folder}: tuning.json's cells are not the grid's")
        options = hill_cell["candidates"]
        start = options.index(hill_cell["visited"][0])
        out.append(
            HillCell(
                full_cell["cell"],
                full_cell["selected"],
                hill_cell["selected"],
                hill_cell["visited"],
                1 + (start > 0) + (start < len(options) - 1),
                {key(t["settings"]): t["run_ids"] for t in full_cell["rungs"][0]["trials"]},
                wall,
            )
        )
    return out


# ---- the sequential design ---------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """One (level, order) of the sequential replay. decisions/full: {test name: category}
    ('beats', 'trails' or NONE), the sequential design's and the full design's, for the level's
    contrasts and changes; walls in seconds on the simulated workers."""

    factor: str
    level: str
    order: int
    contrasts: dict  # test name -> (sequential category, full category)
    changes: dict
    runs_sequential: int
    runs_full: int
    wall_sequential_s: float
    wall_full_s: float
    first_verdict_s: float  # when the first of the level's tests closes (end of its wave)


def category(decision):
    """A sequential decision's category: 'beats', 'trails' or NONE."""
    return decision if decision in SIGNIFICANT else NONE


def full_category(row):
    """A full-design verdict's category: its sign where a test survived Holm, else NONE."""
    if row["verdict"] in (ACROSS, AVERAGE):
        return "beats" if row["delta"] > 0 else "trails"
    return NONE


def makespan(walls, workers):
    """Greedy list scheduling of `walls` (in dispatch order) on `workers`: the last finish."""
    free = [0.0] * workers
    for wall in walls:
        heapq.heappush(free, heapq.heappop(free) + wall)
    return max(free)


def block_seed_groups(blocks):
    """The grid's final seeds grouped by the first block that lists them, in block order."""
    groups, seen = [], set()
    for block in blocks:
        seeds = [s for s in block.get("axes", {}).get(REPLICATE, []) if s not in seen]
        seen.update(seeds)
        if seeds:
            groups.append(seeds)
    return groups


class SequentialReplay:
    """The replay's inputs, loaded once: the records' frame, the engine's family, the full
    design's verdicts, the hill replay, the seed groups. `waves`: W (default S - 1, the design's
    default)."""

    def __init__(self, folder=RESULTS / "default", grid="default", waves=None, alpha=0.05):
        folder = Path(folder)
        self.data = load_data(grid, folder.parent, folder.parent / "data")
        self.tests = sd.family_tests(self.data)
        self.groups = block_seed_groups(GRIDS[grid])
        self.waves = waves or sum(map(len, self.groups)) - 1
        self.alpha = alpha
        self.hill = hill_replay(folder, grid)
        self._looks, self._orders, self._levels = {}, {}, {}

    @cached_property
    def full_verdicts(self):
        """{test key: full-design category} from the report's contrast family."""
        out = {}
        for _, row in self.data.contrasts.iterrows():
            from_regime = row["from_regime"] if isinstance(row["from_regime"], str) else None
            test_key = (row["kind"], row[SPLIT], row[REGIME], from_regime, row["factor"])
            out[(*test_key, row["level"], row["baseline"])] = full_category(row)
        return out

    @cached_property
    def levels(self):
        """[(factor, level)]: every non-baseline level the family contrasts, in family order."""
        return list(dict.fromkeys((t.key[4], t.key[5]) for t in self.tests))

    @cached_property
    def test_seeds(self):
        return [frozenset(t.pairs[2]) for t in self.tests]

    def order_waves(self, order):
        """{seed: wave} of seeded order `order`: each group's seeds permuted, then split."""
        rng = np.random.default_rng([20261207, order])
        seeds = [int(s) for group in self.groups for s in rng.permutation(group)]
        return seed_waves(seeds, self.waves)

    def at(self, i, seeds):
        """The engine's over-these-settings test of test i on the pairs of `seeds` (cached)."""
        found = (i, seeds & self.test_seeds[i])
        if found not in self._looks:
            estimate, se, df, p, _ = self.tests[i].at_wave({s: 1 for s in found[1]}, 1)
            self._looks[found] = (estimate, se, df, p)
        return self._looks[found]

    def decisions(self, order):
        """(decision per test, closed wave per test): the engine's after its W looks under
        seeded `order` (order_looks)."""
        looks = self.order_looks(order)
        return looks.decisions, looks.closed

    def order_looks(self, order):
        """OrderLooks of seeded `order` (cached)."""
        if order in self._orders:
            return self._orders[order]
        wave_of = self.order_waves(order)
        m, waves = len(self.tests), self.waves
        arrays = np.full((4, m, waves), np.nan)
        for w in range(waves):
            seeds = frozenset(s for s, v in wave_of.items() if v <= w + 1)
            for i in range(m):
                arrays[:, i, w] = self.at(i, seeds)
        fractions = np.array([t.fractions(wave_of, waves) for t in self.tests])
        with np.errstate(divide="ignore", invalid="ignore"):
            looks = family_looks(*arrays, self.alpha, fractions=fractions)
        decided, futile = looks.decided_wave, looks.futile_wave
        out = []
        for i in range(m):
            if decided[i]:
                out.append(sd.BEATS if arrays[0, i, decided[i] - 1] > 0 else sd.TRAILS)
            elif futile[i]:
                out.append(sd.FUTILITY)
            else:
                final = np.isfinite(arrays[1, i, looks.final_wave[i] - 1])
                out.append(sd.NOT_DISTINGUISHABLE if final else sd.CANNOT_TEST)
        self._orders[order] = OrderLooks(out, np.array(looks.closed_wave), arrays, fractions)
        return self._orders[order]

    def ahead(self, order, level_tests, untrained):
        """{test: k} of the `level_tests` (family indices) that the runner decides ahead of look
        1 (sequential_design.ahead_of_the_look) once wave 1's slices 0..k are in: Holm rejects
        them at look 1 with every test whose wave-1 runs include one of `untrained`[k] (the
        level's wave-1 runs still to train after slice k) not yet looked at."""
        looks = self.order_looks(order)
        wave_of = self.order_waves(order)
        first = [t.runs_in_wave(wave_of, 1) for t in self.tests]
        out = {}
        for k, left in enumerate(untrained):
            waiting = [i for i, runs in enumerate(first) if runs & left]
            masked = looks.arrays.copy()
            masked[:, waiting, 0] = np.nan
            with np.errstate(divide="ignore", invalid="ignore"):
                partial = family_looks(*masked, self.alpha, fractions=looks.fractions)
            for i in level_tests:
                if i not in out and i not in waiting and partial.decided_wave[i] == 1:
                    out[i] = k
        return out

    def wave_one_slices(self, factor, level, wave_of, wave_one):
        """[[run ids]]: the level's wave-1 finals `wave_one` (in dispatch order) a test at a time,
        as the runner trains them (sequential_design.first_wave_slices, the level's tests
        first), then those no test rests on; empty slices left out."""
        held, slices = set(), []
        for _, test_runs in sd.first_wave_slices(self.tests, wave_of, {(factor, level)}):
            slices.append([r for r in wave_one if r in test_runs and r not in held])
            held.update(slices[-1])
        return [s for s in [*slices, [r for r in wave_one if r not in held]] if s]

    def level_runs(self, factor, level):
        """LevelRuns of `level`, in the regimes that contrast `factor` only: a level alone in a
        regime is not an entry there (tuned_long's adamw). Cached."""
        if (factor, level) in self._levels:
            return self._levels[factor, level]
        regimes = [r for r in self.data.regimes if factor in self.data.contrasted(r)]
        df = self.data.df
        rows = df[(df[factor] == level) & df[REGIME].isin(regimes)].drop_duplicates("run_id")
        tuned = [c for c in self.hill if c.cell.get(factor) == level and c.cell[REGIME] in regimes]
        owners = [
            next(
                (j for j, c in enumerate(tuned) if all(row[a] == v for a, v in c.cell.items())),
                None,
            )
            for _, row in rows.iterrows()
        ]
        wall = dict(zip(rows["run_id"], rows["wall_time_s"].astype(float)))
        for c in tuned:
            wall.update(c.wall_s)
        cells = [tuple(row[[SPLIT, *self.data.factors]]) for _, row in rows.iterrows()]
        finals = list(zip(rows["run_id"], rows[REPLICATE].astype(int), cells, owners))
        tests = [i for i, t in enumerate(self.tests) if t.key[4:6] == (factor, level)]
        self._levels[factor, level] = LevelRuns(finals, tuned, wall, tests)
        return self._levels[factor, level]

    def replay(self, factor, level, order, workers=2, hill=True):
        """Replayed of `level` as the new entry under seeded `order` on `workers`: the
        sequential design tuning by hill climb where `hill` (else the full list), the full
        design by the full list."""
        wave_of = self.order_waves(order)
        decisions, closed = self.decisions(order)
        runs = self.level_runs(factor, level)
        rng = np.random.default_rng([20261207, order, *map(ord, f"{factor}={level}")])
        cells = list(dict.fromkeys(cell for _, _, cell, _ in runs.finals))
        rank = dict(zip(cells, rng.permutation(len(cells)).tolist()))
        tuning_rank = rng.permutation(len(runs.tuned)).tolist()
        in_order = sorted(runs.finals, key=lambda run: (rank[run[2]], run[1]))

        def tuning_phases(use_hill, with_finals, cells=None):
            """[[run ids]] phase by phase: the tuning steps of the tuned `cells` (indices; every
            one where None) in cell order, then, `with_finals`, each final run in the phase
            after its cell's last step (in cell order)."""
            steps = [c.phases(use_hill) for c in runs.tuned]
            phases = [[] for _ in range(1 + max(map(len, steps), default=0))]
            for j in sorted(range(len(steps)), key=tuning_rank.__getitem__):
                for p, step in enumerate(steps[j] if cells is None or j in cells else ()):
                    phases[p].extend(step)
            for run_id, seed, _, owner in in_order if with_finals else ():
                phases[0 if owner is None else len(steps[owner])].append(run_id)
            return [phase for phase in phases if phase]

        def timed(phases):
            """(the run ids trained, the end of each phase in s): a run trains once."""
            seen, ends, total = set(), [], 0.0
            for phase in phases:
                todo = [r for r in dict.fromkeys(phase) if r not in seen]
                seen.update(todo)
                total += makespan([runs.wall[r] for r in todo], workers)
                ends.append(total)
            return seen, ends

        full_runs, full_ends = timed(tuning_phases(False, True))
        wave_one = [r for r, seed, _, _ in in_order if wave_of[seed] == 1]
        slices = self.wave_one_slices(factor, level, wave_of, wave_one)
        owner = {r: o for r, _, _, o in runs.finals}
        first, slice_phase, tuned = [], [], set()  # each slice: its cells' tuning, its finals
        for finals in slices:
            cells = {owner[r] for r in finals if owner[r] is not None} - tuned
            tuned |= cells
            first += tuning_phases(hill, False, cells) + [finals]
            slice_phase.append(len(first) - 1)
        later = []
        for w in range(2, self.waves + 1):  # the runs of the tests open after look w - 1
            needs = frozenset().union(
                *(t.runs_in_wave(wave_of, w) for t, wave in zip(self.tests, closed) if wave >= w)
            )
            later.append([r for r, s, _, _ in in_order if wave_of[s] == w and r in needs])
        seq_runs, seq_ends = timed(first + later)
        wave_end = seq_ends[len(first) - 1 :]  # the end of each wave, 1..W
        slice_end = [seq_ends[p] for p in slice_phase]
        ahead = self.ahead(order, runs.tests, left_after(wave_one, slices)[:-1])
        first_verdict = min(
            slice_end[ahead[i]] if i in ahead else wave_end[closed[i] - 1] for i in runs.tests
        )
        verdicts = {
            i: (category(decisions[i]), self.full_verdicts[self.tests[i].key]) for i in runs.tests
        }
        name = {i: self.tests[i].name for i in runs.tests}
        kind = {i: self.tests[i].key[0] for i in runs.tests}
        return Replayed(
            factor,
            level,
            order,
            {name[i]: v for i, v in verdicts.items() if kind[i] == "contrast"},
            {name[i]: v for i, v in verdicts.items() if kind[i] == "change"},
            len(seq_runs),
            len(full_runs),
            seq_ends[-1],
            full_ends[-1],
            first_verdict,
        )


@dataclass(frozen=True)
class OrderLooks:
    """The engine's looks under one seeded order: decisions and closed waves per test, the
    looks' arrays (estimate, se, df, p: (4, m, W)) and the tests' fractions (m, W)."""

    decisions: list
    closed: np.ndarray
    arrays: np.ndarray
    fractions: np.ndarray


@dataclass(frozen=True)
class LevelRuns:
    """A level's runs as a new entry: finals [(run id, seed, cell, index of the tuned cell whose
    selection it needs, or None)], tuned [HillCell], wall {run id: s}, tests (family indices)."""

    finals: list
    tuned: list
    wall: dict
    tests: list


def left_after(wave_one, slices):
    """[frozenset]: the runs of `wave_one` still to train after each of `slices` (in order)."""
    left, out = frozenset(wave_one), []
    for trained in slices:
        left = left - set(trained)
        out.append(left)
    return out


def summary(replays):
    """The replay's figures: agreement of contrasts and changes (overall, per level), runs, mean
    and p90 wall in minutes, first-verdict time (mean, median, mean per level)."""
    contrasts = [v for r in replays for v in r.contrasts.values()]
    changes = [v for r in replays for v in r.changes.values()]
    per_level, first_per_level = {}, {}
    for r in replays:
        per_level.setdefault(f"{r.factor}={r.level}", []).extend(r.contrasts.values())
        first_per_level.setdefault(f"{r.factor}={r.level}", []).append(r.first_verdict_s / 60)

    def agree(pairs):
        return float(np.mean([a == b for a, b in pairs])) if pairs else float("nan")

    seq = np.array([r.wall_sequential_s for r in replays]) / 60
    full = np.array([r.wall_full_s for r in replays]) / 60
    first = np.array([r.first_verdict_s for r in replays]) / 60
    return {
        "replays": len(replays),
        "contrasts": len(contrasts),
        "contrasts_same": agree(contrasts),
        "level_min_same": min(agree(v) for v in per_level.values()),
        "per_level_same": {k: agree(v) for k, v in per_level.items()},
        "changes": len(changes),
        "changes_same": agree(changes),
        "runs_sequential": float(np.mean([r.runs_sequential for r in replays])),
        "runs_full": float(np.mean([r.runs_full for r in replays])),
        "wall_sequential_min": float(seq.mean()),
        "wall_sequential_p90_min": float(np.quantile(seq, 0.9)),
        "wall_full_min": float(full.mean()),
        "wall_ratio": float(seq.mean() / full.mean()),
        "first_verdict_min": float(first.mean()),
        "first_verdict_median_min": float(np.median(first)),
        "first_verdict_per_level_min": {
            k: round(float(np.mean(v)), 2) for k, v in first_per_level.items()
        },
    }


def main(orders=40, workers=2):
    cells = hill_replay()
    tuned = [c for c in cells if c.cell.get(REGIME) == "tuned"]
    print(
        f"hill: {sum(c.full == c.hill for c in cells)} of {len(cells)} selections the same; "
        f"tuned regime {sum(c.hill_runs for c in tuned)} of {sum(c.full_runs for c in tuned)} "
        f"trials, {sum(c.hill_wall_s for c in tuned) / sum(c.full_wall_s for c in tuned):.3f} "
        f"of their wall time"
    )
    replay = SequentialReplay()
    for hill in (True, False):
        replays = [
            replay.replay(factor, level, order, workers, hill)
            for factor, level in replay.levels
            for order in range(orders)
        ]
        tuning = "hill climb" if hill else "full list"
        print(f"sequential, W = {replay.waves}, tuning by {tuning}:")
        for name, value in summary(replays).items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
