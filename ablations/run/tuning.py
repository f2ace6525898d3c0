"""Tuning in the grid language: a block's nuisance settings tuned per cell on the validation split,
then the winner of each cell trained on the final seeds.

A tuned block adds a "tune" spec to "base" and "axes":

    "tune": {
        "space": {"lr": [0.01, 0.03, 0.1]},  # candidates per nuisance setting (their product)
        "seeds": [0],                        # tuning seeds (a final seed too: its run is shared)
        "select": "final_val_acc",           # or "best_val_acc" (best epoch); validation only
        "per": ["dataset", "optimizer"],     # axes a cell varies over (default: all but seed)
        "halving": {"epochs": [2, 6], "keep": 0.34},  # optional successive halving
        "search": "hill",                    # optional: "full" (the default) or "hill"
        "start": {"lr": 0.03},               # optional, hill only: where the climb starts
    }

A final run with the same settings as a run of another block (e.g. a tuned cell that selected
the defaults regime's lr) is the same run: listed under each block's labels, trained once.
A level of a `per` axis may carry its own candidates, {"optimizer": "sgd", "tune": {"lr": [...]}},
which replace the block's for the cells with that level. Axes left out of `per` share their
cell's selection: the tuning runs take each such axis's first level (e.g. lr tuned without a
regularizer and reused with every regularizer). A candidate's score is the mean over the tuning
seeds of the record's `select` field, a diverged trial counting 0; the highest score wins (ties:
the first candidate listed). With halving, rung r trains the surviving candidates with
`epochs[r]` epochs and keeps the best ceil(keep * n) for the next rung; the last rung picks the
winner. With "search": "hill" (one tuned setting, its candidates increasing numbers, no
halving) a cell trains its start and the start's neighbours in the list, then, while the best
candidate visited is the lowest (highest) one visited and not the end of the list, the next
candidate below (above) it, one per phase, until the best visited is interior or at an end of
the list (scores and ties as above, over the visited candidates). The start is the level's own
"start" in its tune ({"optimizer": "sgd", "tune": {"lr": [...], "start": {"lr": 0.3}}}), else
the block's tune.start, else the middle candidate (index (n - 1) // 2). On a unimodal score
curve it selects what the full list selects. Only records of the current schema count (records.is_finished), and nothing but `status`
and the `select` field of a record is read: never a test metric.

Final runs depend on tuning results, so a tuned grid trains in phases (`run_tuned_grid`): plan
from the records, train what is known, plan again, until nothing new appears. The plan of each
cell (candidates, scores, run ids, the selected setting and its validation figure; for a hill
climb also "search", every "candidates" and the "visited" ones in visiting order, its trials
only the visited ones) is written to results/<grid>/tuning.json.
"""

import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from nn_core.registry import unknown_name_message

from ablations.grid.config import SCHEMA, GridError, resolve
from ablations.grid.expand import (
    check_block,
    combinations,
    describe,
    expand_block,
    level_settings,
    make_run,
    matching_runs,
)
from ablations.records.store import TUNING_FILE, is_finished, read_records, write_json_atomic

TUNE_KEYS = ("space", "seeds", "select", "per", "halving", "search", "start")
SEARCHES = {
    "full": "every candidate",
    "hill": "a hill climb from the start over its neighbours in the candidate list",
}
START = "start"  # the key of a hill climb's start in tune and in a level's own tune
SELECTION_RULES = {
    "final_val_acc": "validation accuracy after the last epoch",
    "best_val_acc": "best validation accuracy over the epochs",
}
REPLICATE = "seed"  # the axis of final seeds
TRIAL = "trial"  # the label a tuning run carries: its candidate's settings


@dataclass(frozen=True)
class TuneSpec:
    space: dict  # setting -> candidate values (block-wide)
    seeds: list
    select: str
    per: list  # axes a cell varies over
    rungs: list  # epochs per rung; [None]: one rung at the block's own epochs
    keep: float = 1.0
    search: str = "full"  # a key of SEARCHES
    start: dict = field(default_factory=dict)  # hill: {setting: value} where a climb starts


@dataclass(frozen=True)
class AwaitingFinal:
    """A final run whose cell's selection still needs tuning results: its labels, its settings
    but the tuned ones (dataset and seed among them), and `cell`, the index of its cell in
    Plan.cells."""

    labels: dict
    settings: dict
    cell: int


@dataclass
class Plan:
    """What a grid holds given the records so far."""

    runs: list = field(default_factory=list)  # untuned blocks' runs and known final runs
    tuning: list = field(default_factory=list)  # tuning runs known so far (shared ones included)
    cells: list = field(default_factory=list)  # one selection summary per tuned cell
    awaiting: list = field(default_factory=list)  # AwaitingFinal: finals of cells still tuning

    @property
    def tuned(self):
        return bool(self.cells)

    @property
    def pending_finals(self):
        """How many final runs wait for their cell's selection."""
        return len(self.awaiting)

    def tuning_of(self, cells):
        """The tuning runs known so far of the cells at indices `cells` (Plan.cells)."""
        ids = {
            rid
            for c in cells
            for rung in self.cells[c]["rungs"]
            for trial in rung["trials"]
            for rid in trial["run_ids"]
        }
        return [run for run in self.tuning if run.run_id in ids]

    def all_runs(self):
        """Tuning runs, then final runs, each run id once."""
        unique = {}
        for run in self.tuning + self.runs:
            unique.setdefault(run.run_id, run)
        return list(unique.values())


def _is_number_list(values, check):
    return (
        isinstance(values, list)
        and values
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and check(v) for v in values
        )
    )


def parse_tune(where, block):
    """The block's TuneSpec, or GridError naming the problem."""
    spec, axes = block["tune"], block.get("axes", {})
    if not isinstance(spec, dict):
        raise GridError(f"{where}: tune must be a dict with keys {', '.join(TUNE_KEYS)}")
    for key in spec:
        if key not in TUNE_KEYS:
            raise GridError(f"{where}: tune: " + unknown_name_message("tune key", key, TUNE_KEYS))
    space = spec.get("space", {})
    if not isinstance(space, dict):
        raise GridError(f"{where}: tune: space must be a dict of candidate lists")
    seeds = spec.get("seeds")
    if not _is_number_list(seeds, lambda v: isinstance(v, int) and v >= 0):
        raise GridError(
            f"{where}: tune: seeds must be a non-empty list of integers >= 0, got {seeds!r}"
        )
    select = spec.get("select", "final_val_acc")
    if select not in SELECTION_RULES:
        raise GridError(
            f"{where}: tune: select: "
            + unknown_name_message("selection rule", select, SELECTION_RULES)
        )
    per = spec.get("per", [axis for axis in axes if axis != REPLICATE])
    if not isinstance(per, list) or any(a not in axes or a == REPLICATE for a in per):
        valid = [a for a in axes if a != REPLICATE]
        raise GridError(
            f"{where}: tune: per must list axes of the block other than "
            f"{REPLICATE!r} ({', '.join(valid)}), got {per!r}"
        )
    rungs, keep = [None], 1.0
    if "halving" in spec:
        halving = spec["halving"]
        if not isinstance(halving, dict) or set(halving) != {"epochs", "keep"}:
            raise GridError(f"{where}: tune: halving must be {{'epochs': [..], 'keep': ..}}")
        rungs, keep = halving["epochs"], halving["keep"]
        if (
            not _is_number_list(rungs, lambda v: isinstance(v, int) and v >= 1)
            or len(rungs) < 2
            or rungs != sorted(set(rungs))
        ):
            raise GridError(
                f"{where}: tune: halving epochs must be >= 2 increasing positive "
                f"integers, got {rungs!r}"
            )
        if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep < 1:
            raise GridError(f"{where}: tune: halving keep must be in (0, 1), got {keep!r}")
    search = spec.get("search", "full")
    if not isinstance(search, str) or search not in SEARCHES:
        raise GridError(
            f"{where}: tune: search: " + unknown_name_message("search", str(search), SEARCHES)
        )
    starts = [spec.get(START, {})] + [
        level_space(where, axis, level).get(START, {}) for axis in axes for level in axes[axis]
    ]
    if search == "hill" and "halving" in spec:
        raise GridError(
            f"{where}: tune: search 'hill' and halving cannot be combined; "
            f"valid: search 'full' with halving, or search 'hill' without"
        )
    if search != "hill" and any(starts):
        raise GridError(f"{where}: tune: a start is for search 'hill' only, got search {search!r}")
    if any(not isinstance(start, dict) or len(start) != 1 for start in starts if start):
        raise GridError(f"{where}: tune: a start must be {{setting: value}}, one setting")
    level_spaces = [
        without_start(level_space(where, axis, level)) for axis in axes for level in axes[axis]
    ]
    if not space and not any(level_spaces):
        raise GridError(f"{where}: tune: no candidates: give tune.space or a level's tune")
    for axis, levels in axes.items():
        for level, own in zip(levels, (level_space(where, axis, lv) for lv in levels)):
            if own and axis not in per:
                raise GridError(
                    f"{where}: tune: axis {axis!r} is not in tune.per, so its levels "
                    f"cannot carry their own candidates"
                )
    for settings in [space, *level_spaces]:
        for key, values in settings.items():
            check_tunable(where, block, key, values)
    return TuneSpec(space, list(seeds), select, per, list(rungs), keep, search, starts[0])


def level_space(where, axis, level):
    """A level's own candidates ({} if none)."""
    own = level.get("tune", {}) if isinstance(level, dict) else {}
    if not isinstance(own, dict):
        raise GridError(f"{where}: axis {axis!r}: a level's tune must be a dict of lists")
    return own


def without_start(own):
    """A level's own tune without its hill start: its candidates."""
    return {key: values for key, values in own.items() if key != START}


def check_tunable(where, block, key, values):
    """GridError unless `key` is a nuisance the block leaves free, with a non-empty list."""
    if not isinstance(values, list) or not values:
        raise GridError(f"{where}: tune: {key!r} must be a non-empty list of candidates")
    if len({repr(v) for v in values}) < len(values):
        raise GridError(f"{where}: tune: {key!r} lists a candidate twice: {values!r}")
    if key == "seed" or key.endswith("_seed"):
        raise GridError(f"{where}: tune: {key!r} is a random seed, not a nuisance to tune")
    if key in block.get("axes", {}):
        raise GridError(
            f"{where}: tune: {key!r} is an axis of the block; a setting is either "
            f"compared (an axis) or tuned (a nuisance), not both"
        )
    if key in block.get("base", {}):
        raise GridError(f"{where}: tune: {key!r} is fixed by the block's base")
    for axis, levels in block.get("axes", {}).items():
        for level in levels:
            label, settings = level_settings(axis, level)
            if key in settings:
                raise GridError(
                    f"{where}: tune: {key!r} is set by level {label!r} of axis "
                    f"{axis!r}; leave it to the tuning"
                )
    if key in SCHEMA:  # optimizer arguments are checked when the runs resolve
        for value in values:
            resolve({key: value}, f"{where} tune")


def candidates(space):
    """Every combination of the space's lists, in order: [{setting: value}, ...]."""
    return [dict(zip(space, values)) for values in itertools.product(*space.values())]


def score(records, runs, rule):
    """(mean of `rule` over the runs, diverged count), or None while a run has no result.
    Reads a record's status and its `rule` field only."""
    values, diverged = [], 0
    for run in runs:
        record = records.get(run.run_id)
        if record is None:
            return None
        ok = record["status"] == "ok" and record.get(rule) is not None
        diverged += not ok
        values.append(float(record[rule]) if ok else 0.0)
    return sum(values) / len(values), diverged


def survivors(scored, keep):
    """Indices of the best ceil(keep * n) of `scored` [(index, score)], best first; ties keep
    the earlier candidate."""
    ranked = sorted(scored, key=lambda item: (-item[1], item[0]))
    return [index for index, _ in ranked[: max(1, math.ceil(keep * len(ranked)))]]


def plan_trial(where, cell, spec, option, epochs, records, seen_tuning):
    """(runs, their score or None) of one candidate `option` of `cell` at `epochs` (None: the
    block's own); the runs are the shared ones of seen_tuning."""
    labels, settings, _ = cell
    extra = {} if epochs is None else {"epochs": epochs}
    trial = describe({**option, **extra})
    runs = []
    for seed in spec.seeds:
        run = make_run(
            f"{where} tune",
            {**labels, REPLICATE: str(seed), TRIAL: trial},
            {**settings, **option, **extra, "seed": seed},
            {},
        )
        runs.append(seen_tuning.setdefault(run.run_id, run))
    return runs, score(records, runs, spec.select)


def trial_summary(option, runs, result):
    return {
        "settings": option,
        "run_ids": [r.run_id for r in runs],
        "score": None if result is None else result[0],
        "diverged": None if result is None else result[1],
    }


def plan_cell(where, cell, spec, records, seen_tuning):
    """Tuning runs and the selection of one cell. `cell` = (labels, settings, space) of the runs
    that tune it. Returns (tuning runs, summary); summary["selected"] is None while pending."""
    if spec.search == "hill":
        return plan_hill(where, cell, spec, records, seen_tuning)
    labels, settings, space = cell
    options = candidates(space)
    alive, runs, rungs = list(range(len(options))), [], []
    for rung, epochs in enumerate(spec.rungs):
        trials = []
        for index in alive:
            trial_runs, result = plan_trial(
                where, cell, spec, options[index], epochs, records, seen_tuning
            )
            runs.extend(trial_runs)
            trials.append((index, trial_runs, result))
        rungs.append(
            {
                "epochs": epochs,
                "trials": [
                    trial_summary(options[index], trial_runs, result)
                    for index, trial_runs, result in trials
                ],
            }
        )
        if any(result is None for _, _, result in trials):
            return runs, summary(labels, spec, rungs, None, None)
        alive = survivors(
            [(index, result[0]) for index, _, result in trials],
            spec.keep if rung < len(spec.rungs) - 1 else 0.0,
        )
    best = alive[0]
    figure = next(t["score"] for t in rungs[-1]["trials"] if t["settings"] == options[best])
    return runs, summary(labels, spec, rungs, options[best], figure)


def hill_start(where, space, start):
    """The index of the hill climb's start among the candidates of `space` (one setting, its
    values increasing numbers): `start`'s value, or the middle one, (n - 1) // 2."""
    if len(space) != 1:
        raise GridError(
            f"{where}: tune: search 'hill' climbs one setting, got {len(space)}: "
            f"{', '.join(space) or 'none'}; valid: one setting, or search 'full'"
        )
    ((setting, values),) = space.items()
    if not _is_number_list(values, lambda v: True) or values != sorted(set(values)):
        raise GridError(
            f"{where}: tune: search 'hill' needs {setting!r}'s candidates as increasing "
            f"numbers, got {values!r}"
        )
    if not start:
        return (len(values) - 1) // 2
    if set(start) != {setting} or start[setting] not in values:
        raise GridError(
            f"{where}: tune: hill start {start!r} is not a candidate; valid: "
            + ", ".join(f"{{{setting!r}: {v!r}}}" for v in values)
        )
    return values.index(start[setting])


def hill_climb(n, start, score_of):
    """(visited indices in visiting order, the best index or None while a visited candidate
    has no score). score_of(i) -> score or None. Visits `start` and its neighbours, then, while
    the best visited (highest score, ties: the lowest index) is the lowest (highest) index
    visited and not 0 (n - 1), the next index below (above) it."""
    visited = list(dict.fromkeys([start, max(start - 1, 0), min(start + 1, n - 1)]))
    while True:
        scores = {i: score_of(i) for i in visited}
        if any(value is None for value in scores.values()):
            return visited, None
        best = min(visited, key=lambda i: (-scores[i], i))
        if best == min(visited) and best > 0:
            visited.append(best - 1)
        elif best == max(visited) and best < n - 1:
            visited.append(best + 1)
        else:
            return visited, best


def plan_hill(where, cell, spec, records, seen_tuning):
    """plan_cell for search "hill": the trials of the candidates hill_climb visits given the
    records, in candidate order."""
    labels, settings, space = cell
    own_start = space.get(START, {})
    space = without_start(space)
    options = candidates(space)
    start = hill_start(where, space, own_start or spec.start)
    trials = {}

    def score_of(index):
        if index not in trials:
            trials[index] = plan_trial(
                where, cell, spec, options[index], None, records, seen_tuning
            )
        result = trials[index][1]
        return None if result is None else result[0]

    visited, best = hill_climb(len(options), start, score_of)
    rungs = [
        {
            "epochs": None,
            "trials": [trial_summary(options[i], *trials[i]) for i in sorted(visited)],
        }
    ]
    runs = [run for i in visited for run in trials[i][0]]
    selected = None if best is None else options[best]
    out = summary(labels, spec, rungs, selected, None if best is None else score_of(best))
    out.update(search="hill", candidates=options, visited=[options[i] for i in visited])
    return runs, out


def summary(labels, spec, rungs, selected, figure):
    return {
        "cell": labels,
        "rule": spec.select,
        "seeds": spec.seeds,
        "rungs": rungs,
        "selected": selected,
        "selected_val": figure,
    }


def plan_block(where, block, records, seen, seen_tuning):
    """(final runs known, tuning runs, cell summaries, [AwaitingFinal] with its cell's index
    among the summaries) of a tuned block."""
    base, axes = check_block(where, block)
    spec = parse_tune(where, block)
    rest = {a: levels for a, levels in axes.items() if a not in spec.per}
    shared = [a for a in rest if a != REPLICATE]
    context_labels, context, _ = next(combinations({a: axes[a][:1] for a in shared}))
    finals, tuning, cells, awaiting = [], [], [], []
    for labels, settings, own in combinations({a: axes[a] for a in spec.per}):
        runs, cell = plan_cell(
            where,
            ({**labels, **context_labels}, {**base, **context, **settings}, {**spec.space, **own}),
            spec,
            records,
            seen_tuning,
        )
        cell.update(cell=labels, shared_over=shared)
        tuning.extend(runs)
        cells.append(cell)
        for rest_labels, rest_settings, _ in combinations(rest):
            run_labels = {a: {**labels, **rest_labels}[a] for a in axes}
            if cell["selected"] is None:
                awaiting.append(
                    AwaitingFinal(run_labels, {**base, **settings, **rest_settings}, len(cells) - 1)
                )
                continue
            finals.append(
                make_run(
                    where,
                    run_labels,
                    {**base, **settings, **rest_settings, **cell["selected"]},
                    seen,
                )
            )
    return finals, tuning, cells, awaiting


def plan_grid(name, blocks, records=None):
    """The Plan of grid `name` given `records` ({run_id: record}; only current, finished ones
    count). A grid without tuned blocks plans to exactly expand_grid's runs."""
    if not isinstance(blocks, list) or not blocks:
        raise GridError(f"grid {name!r}: must be a non-empty list of blocks")
    records = {rid: r for rid, r in (records or {}).items() if is_finished(r)}
    plan, seen, seen_tuning = Plan(), {}, {}
    for b, block in enumerate(blocks):
        where = f"grid {name!r} block {b}"
        if not (isinstance(block, dict) and "tune" in block):
            plan.runs.extend(expand_block(where, block, seen))
            continue
        # a final run with the settings of another block's run is that run: listed under each
        # block's labels (e.g. both regimes), trained once
        finals, tuning, cells, awaiting = plan_block(where, block, records, {}, seen_tuning)
        plan.runs.extend(finals)
        plan.awaiting.extend(replace(a, cell=len(plan.cells) + a.cell) for a in awaiting)
        known = {run.run_id for run in plan.tuning}
        for run in tuning:
            if run.run_id not in known:
                known.add(run.run_id)
                plan.tuning.append(run)
        plan.cells.extend(cells)
    return plan


def finished_records(folder):
    """{run_id: record} of the current schema's finished records in `folder` (read only)."""
    if not Path(folder).is_dir():
        return {}
    found = read_records(folder, log=lambda line: None, set_aside=False)
    return {rid: r for rid, r in found.items() if is_finished(r)}


def plan_from_results(name, blocks, results_dir):
    """plan_grid with the finished records under results_dir/name (read only for a grid with
    tuned blocks: the others do not depend on results)."""
    tuned = isinstance(blocks, list) and any(isinstance(b, dict) and "tune" in b for b in blocks)
    return plan_grid(name, blocks, finished_records(Path(results_dir) / name) if tuned else None)


def write_tuning_file(folder, name, plan):
    """results/<grid>/tuning.json: which runs tuned, and what each cell selected on what figure."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        Path(folder) / TUNING_FILE,
        {
            "grid": name,
            "rules": {rule: SELECTION_RULES[rule] for rule in {c["rule"] for c in plan.cells}},
            "tuning_run_ids": [run.run_id for run in plan.tuning],
            "final_run_ids": [run.run_id for run in plan.runs],
            "pending_final_runs": plan.pending_finals,
            "cells": plan.cells,
        },
    )


def run_tuned_grid(name, blocks, results_dir, train, only=None, force=False, log=print, keep=None):
    """Train a grid with tuned blocks in phases; return the last phase's outcome with the
    counts of all phases. `train(final_runs, todo)` trains the runs `todo` and saves
    `final_runs` as the grid (e.g. runner.run_grid with only=todo). Each run is trained at most
    once per call; the loop ends when a plan has nothing left to train (or a phase was
    interrupted). `keep(run)`: where given, only the runs it keeps train, the others being left
    to the caller (a sequential grid's tuning runs first, its finals in waves)."""
    folder = Path(results_dir) / name
    attempted, total = set(), None
    while True:
        records = finished_records(folder)
        plan = plan_grid(name, blocks, records)
        write_tuning_file(folder, name, plan)
        wanted = plan.all_runs() if only is None else matching_runs(plan.all_runs(), only)
        todo = [
            run
            for run in wanted
            if run.run_id not in attempted
            and (force or run.run_id not in records)
            and (keep is None or keep(run))
        ]
        if not todo:
            if plan.pending_finals:
                log(
                    f"grid {name}: {plan.pending_finals} final runs wait for tuning results "
                    f"that this session could not produce"
                )
            saved = train(plan.runs, [])  # grid.json lists the last plan's final runs
            return total if total is not None else saved
        log(
            f"grid {name}: phase with {len(todo)} runs to train ({len(plan.tuning)} tuning runs "
            f"known, {len(plan.runs)} final runs known, {plan.pending_finals} pending)"
        )
        outcome = train(plan.runs, todo)
        attempted.update(run.run_id for run in todo)
        if total is not None:
            outcome.trained += total.trained
            outcome.busy += total.busy
            for status, count in total.counts.items():
                outcome.counts[status] = outcome.counts.get(status, 0) + count
        total = outcome
        if outcome.interrupted:
            return total
