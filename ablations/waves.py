"""The sequential design's wave runner: a grid trained in seed waves, each wave only what an
undecided test still needs, its look log in results/<grid>/sequential.json.

It trains (the run room) and then reads the records as the report does (the analysis room), so
it lives above both, below the command line (tests/test_layers.py's RANKS).

A session of `run_sequential_grid`:
1. **Wave 1**, a test at a time (sequential_design.first_wave_slices: the tests of the levels
   the session adds first, the question it asks, and the test with the most wave-1 pairs first
   within each): plan from the records (run.tuning.plan_grid), take the first test with a
   wave-1 run still to train; if some of its runs wait for their cell's tuning (a final's lr is
   the cell's selection), train that cell's tuning runs, one phase of its search, and plan
   again; else train its wave-1 finals and take a look: a test whose wave-1 runs are in and
   that look 1 is sure to reject is decided then (sequential_design.ahead_of_the_look), before
   the other tests' runs. The family is known before every final is (a run waiting for its
   cell's tuning is a pending run of the looks' frame, `looks_data`), so Holm counts every
   test of the design. Then any tuning run no wave-1 test needed, and any wave-1 run no test
   rests on.
2. **Looks**: the records on disk are read back (report.frame.load_data) and the decision engine
   (analysis/sequential_design.py) takes every look the records allow; the look log is written
   atomically; the runs the next wave needs (the waiting runs an undecided contrast's or
   change's planned pairs of that wave rest on) train; again, until no test is open or the
   last wave is in.
Nothing is kept in memory between looks: a killed session, run again, reads the same records,
takes the same looks and trains what is still missing, so its decisions and look log are those
of an uninterrupted session whatever the workers or backend. The design is not in any run id:
the runs are the full design's, shared with it.
"""

from pathlib import Path

from .analysis.report.columns import REPLICATE, SPLIT, STREAM_AXES
from .analysis.report.frame import load_data, read_plan
from .analysis.sequential_design import (
    UNDECIDED,
    family_tests,
    first_wave_slices,
    sequential_state,
)
from .grid.design import grid_seeds, seed_waves
from .records.store import GRID_FILE, SEQUENTIAL_FILE, write_json_atomic
from .run.tuning import TRIAL, finished_records, plan_grid, run_tuned_grid, write_tuning_file

NAMED = 3  # the tests a line names at most


def wave_of_design(blocks, design):
    """{final seed: wave} of a grid's blocks under a sequential `design`."""
    return seed_waves(grid_seeds(blocks), design.waves)


def is_tuning_run(run):
    """Whether `run` is a tuning run (it carries the trial label)."""
    return TRIAL in run.labels


def combined(total, outcome):
    """run.runner.GridOutcome `outcome` with the counts of the earlier phases' `total` added."""
    if total is None:
        return outcome
    outcome.trained += total.trained
    outcome.busy += total.busy
    for status, count in total.counts.items():
        outcome.counts[status] = outcome.counts.get(status, 0) + count
    return outcome


def undecided_note(state):
    """The progress line's count beside the runs: '12 of 40 tests undecided'."""
    return f"{state.undecided} of {len(state.tests)} tests undecided"


def ahead_line(name, state, slice_name, added=()):
    """One line after a slice of wave 1 (`slice_name`: the test it was for): the tests decided
    ahead of look 1 so far, those of the `added` levels ({(factor, level)}) named first."""
    decided = [t for t in state.tests if t.closed_wave and t.decision != UNDECIDED]
    decided.sort(key=lambda t: t.key[4:6] not in added)  # stable: family order within each
    named = "".join(f"; {t.name}: {t.decision}" for t in decided[:NAMED])
    more = f"; and {len(decided) - NAMED} more" if len(decided) > NAMED else ""
    return (
        f"grid {name}: wave 1 in for {slice_name}; {len(decided)} of {len(state.tests)} tests "
        f"decided ahead of look 1{named}{more}"
    )


def look_line(name, state):
    """One line after the looks: where the grid stands and what trains next."""
    where = f"grid {name}: look {state.wave} of {state.waves}, {undecided_note(state)}"
    if state.waiting:
        return f"{where}; wave {state.wave + 1}: {len(state.waiting)} runs to train"
    return f"{where}; nothing more to train ({state.finished} of {state.planned} runs)"


def awaiting_id(k):
    """The run id that stands for the k-th final run still waiting for its cell's tuning."""
    return f"awaiting-tuning-{k}"


def frame_runs(plan):
    """The runs of a run.tuning.Plan as read_plan gives them (report.frame.load_data's `runs`):
    its known finals, then each final still waiting for its cell's tuning under awaiting_id."""
    known = [{"run_id": r.run_id, "labels": r.labels, "config": r.config} for r in plan.runs]
    return known + [
        {"run_id": awaiting_id(k), "labels": a.labels, "config": a.settings}
        for k, a in enumerate(plan.awaiting)
    ]


def looks_data(name, results_dir, data_dir, plan):
    """The ReportData the looks read: results/<name>/'s records over run.tuning.Plan `plan`'s
    runs (frame_runs: the family is the design's even where a final still waits for its cell's
    tuning)."""
    return load_data(name, results_dir, data_dir, runs=frame_runs(plan))


def take_looks(name, results_dir, design, wave_of, data, tests=None):
    """The SequentialState of looks_data `data` (`tests`: its family_tests, where computed
    already), its look log written (atomically) to results/<name>/sequential.json."""
    state = sequential_state(data, wave_of, design.waves, design.alpha, tests)
    write_json_atomic(
        Path(results_dir) / name / SEQUENTIAL_FILE,
        {"grid": name, "design": design.as_dict(), **state.log()},
    )
    return state


def next_slice(tests, wave_of, done, added):
    """(test, run ids) of the first slice of wave 1 (first_wave_slices of the FamilyTests
    `tests`, the `added` levels' tests first) with a run id not in `done` (awaiting_id for a
    final waiting for its cell's tuning), those ids only; None when every slice is done."""
    for test, runs in first_wave_slices(tests, wave_of, added):
        if runs - done:
            return test, runs - done
    return None


def train_first_wave(name, blocks, design, wave_of, results_dir, data_dir, train, log, before):
    """Wave 1, a test at a time (the module docstring); return (the GridOutcome of its phases
    together or None, the run ids it trained, interrupted)."""
    folder = Path(results_dir) / name
    total, attempted, added, trained_for = None, set(), None, None
    while True:
        records = finished_records(folder)
        plan = plan_grid(name, blocks, records)
        if added is None:
            levels = {pair for r in [*plan.runs, *plan.awaiting] for pair in r.labels.items()}
            added = added_levels(before, levels)
        data = looks_data(name, results_dir, data_dir, plan)
        tests = family_tests(data)
        done = set(records) | attempted
        found = next_slice(tests, wave_of, done, added)
        if trained_for is not None and found is not None:  # a slice's finals are in: a look
            state = take_looks(name, results_dir, design, wave_of, data, tests)
            log(ahead_line(name, state, trained_for, added))
        trained_for = None
        if found is None:
            return total, attempted, False
        test, runs = found
        waiting = {k for k in range(plan.pending_finals) if awaiting_id(k) in runs}
        if waiting:  # one phase of the tuning of the cells its awaiting finals belong to
            cells = {plan.awaiting[k].cell for k in waiting}
            todo = [r for r in plan.tuning_of(sorted(cells)) if r.run_id not in done]
            if not todo:  # their tuning runs failed this session: the slice cannot train
                attempted.update(awaiting_id(k) for k in waiting)
                continue
            write_tuning_file(folder, name, plan)
        else:
            todo = [r for r in plan.runs if r.run_id in runs]
            trained_for = test.name
        outcome = train(plan.runs, todo)
        attempted.update(r.run_id for r in todo)
        total = combined(total, outcome)
        if outcome.interrupted:
            return total, attempted, True


def run_sequential_grid(
    name, blocks, design, results_dir, data_dir, train, log=print, progress=None, before=None
):
    """Train grid `name` (its `blocks`) under a sequential `design`; return (the GridOutcome of
    every phase together, the last SequentialState, None if wave 1 was interrupted).
    `train(final_runs, todo)` trains the runs `todo` and saves `final_runs` as the grid
    (runner.run_grid with only=todo); `progress`, a progress.Session, gets the undecided count
    as its note; `before`: level_labels of the records before the session (the added levels'
    tests train first in wave 1; None: no level counts as added). Each run is trained at most
    once per call."""
    folder = Path(results_dir) / name
    wave_of = wave_of_design(blocks, design)
    total, attempted, interrupted = train_first_wave(
        name, blocks, design, wave_of, results_dir, data_dir, train, log, before or {}
    )
    if interrupted:
        return total, None
    if any(isinstance(b, dict) and "tune" in b for b in blocks):  # tuning no wave-1 test needed

        def untried_tuning_run(run):
            return is_tuning_run(run) and run.run_id not in attempted

        total = combined(
            total,
            run_tuned_grid(name, blocks, results_dir, train, log=log, keep=untried_tuning_run),
        )
        if total.interrupted:
            return total, None
    records = finished_records(folder)
    plan = plan_grid(name, blocks, records)  # its finals no longer change (tuning is done)
    finals = plan.runs
    rest = [
        r
        for r in finals
        if wave_of.get(r.config["seed"], 1) == 1 and r.run_id not in {*records, *attempted}
    ]
    total = combined(total, train(finals, rest))  # wave 1's runs no test rests on; grid.json
    attempted.update(r.run_id for r in rest)
    if total.interrupted:
        return total, None
    while True:  # looks read `plan`: a final still waiting for tuning keeps its tests open
        data = looks_data(name, results_dir, data_dir, plan)
        state = take_looks(name, results_dir, design, wave_of, data)
        if progress is not None:
            progress.note = undecided_note(state)
        log(look_line(name, state))
        waiting = set(state.waiting)
        todo = [r for r in finals if r.run_id in waiting and r.run_id not in attempted]
        if not todo:
            if waiting:
                log(
                    f"grid {name}: look {state.wave + 1} waits for {len(waiting)} runs this "
                    f"session could not train; run the same command again"
                )
            return total, state
        outcome = train(finals, todo)
        attempted.update(r.run_id for r in todo)
        total = combined(total, outcome)
        if outcome.interrupted:
            return total, state


def level_labels(records):
    """{(axis, label)} of the final runs among `records` (tuning runs left out)."""
    return {
        (axis, label)
        for record in records.values()
        if TRIAL not in record.get("labels", {})
        for axis, label in record.get("labels", {}).items()
    }


def added_levels(before, factors_levels):
    """The (factor, level) pairs of `factors_levels` that no final record had `before` the
    session ({} where the grid had no records then: a new grid adds no level to anything)."""
    if not before:
        return set()
    return {pair for pair in factors_levels if pair not in before}


def sequential_verdict_lines(state, added):
    """The verdict rows of the `added` levels' tests (contrasts and changes), from the looks."""
    lines = []
    for test in state.tests:
        if (test.key[4], test.key[5]) not in added:
            continue
        when = (
            f"decided at wave {test.closed_wave} of {state.waves}"
            if test.closed_wave
            else f"open after wave {state.wave} of {state.waves}"
        )
        if test.decision == UNDECIDED:
            when = f"undecided after wave {state.wave} of {state.waves}"
        estimate = f"{test.estimates[-1]:+.2f} points" if test.estimates else "no pairs yet"
        mde = "" if test.decision in ("beats", "trails") else f", MDE {test.mde:.2f} points"
        lines.append(f"  {test.name}: {test.decision} ({estimate}{mde}), {when}")
    if lines:
        lines.append(f"  ({state.finished} of {state.planned} runs of the full design trained)")
    return lines


def full_verdict_lines(family, added):
    """The verdict rows of the `added` levels' tests, from the report's contrast family."""
    lines = []
    for _, row in family.iterrows():
        if (row["factor"], row["level"]) not in added:
            continue
        where = row["dataset"] if row["regime"] is None else f"{row['dataset']}, {row['regime']}"
        if row["kind"] == "change":
            where = f"{row['dataset']}, {row['from_regime']} -> {row['regime']}"
        lines.append(
            f"  {row['kind']}: {row['factor']} {row['level']} vs {row['baseline']} ({where}): "
            f"{row['verdict']} ({row['delta']:+.2f} points, Holm p {row['holm_p']:.3g})"
        )
    return lines


def new_level_verdicts(name, results_dir, data_dir, before, state=None):
    """The lines a session that added levels to grid `name` ends with: each added level's
    verdict rows (the sequential looks' where `state` is given, else the report's); [] when it
    added none. `before`: level_labels of the records before the session."""
    plan = read_plan(Path(results_dir) / name / GRID_FILE)
    pairs = {
        (axis, label)
        for run in plan
        for axis, label in run["labels"].items()
        if axis not in (SPLIT, REPLICATE, *STREAM_AXES)
    }
    added = added_levels(before, pairs)
    if not added:
        return []
    if state is not None:
        rows = sequential_verdict_lines(state, added)
    else:
        rows = full_verdict_lines(load_data(name, results_dir, data_dir).contrasts, added)
    names = ", ".join(f"{f}={level}" for f, level in sorted(added))
    return [f"grid {name}: the verdicts of its new levels ({names}):", *rows] if rows else []
