"""Grid expansion: blocks of axes -> a deterministic list of validated runs.

A grid is a list of blocks (like scikit-learn's ParameterGrid given a list of dicts). Each block is
{"base": settings, "axes": {axis: [level, ...]}} and expands to the product of its axes, in order.
A level is a plain value (sets the setting named like the axis) or a dict of settings with an
optional "label" (default: the value of the setting named like the axis, else "k=v,...").
"""

import itertools
from dataclasses import dataclass

from nn_core.registry import unknown_name_message

from .config import GridError, resolve, run_id
from .loaded import stamp


@dataclass(frozen=True)
class Run:
    run_id: str
    labels: dict  # axis -> level label: the factors the report compares
    config: dict  # resolved settings

    def describe(self):
        return "/".join(str(v) for v in self.labels.values())


def level_settings(axis, level):
    """(label, settings) for one level of an axis."""
    if isinstance(level, dict):
        settings = dict(level)
        label = settings.pop("label", None)
        if label is not None and not isinstance(label, (str, int, float)):
            raise GridError(f"axis {axis!r}: a label must be a string, got {label!r}")
        if label is None:
            label = (
                settings[axis]
                if axis in settings
                else ",".join(f"{k}={v}" for k, v in settings.items())
            )
        return str(label), settings
    return str(level), {axis: level}


BLOCK_KEYS = ("base", "axes", "tune", "design")  # design: grid/design.py


def check_block(where, block):
    """The block's (base, axes), or GridError: a dict of 'base' settings and 'axes' lists (and,
    in a tuned block, a 'tune' spec that ablations/tuning.py checks), with distinct labels."""
    if (
        not isinstance(block, dict)
        or set(block) - set(BLOCK_KEYS)
        or not isinstance(block.get("base", {}), dict)
        or not isinstance(block.get("axes", {}), dict)
    ):
        raise GridError(
            f"{where}: a block is a dict with keys 'base' (a dict of settings), "
            f"'axes' (a dict of lists) and optionally 'tune' and 'design'"
        )
    axes = block.get("axes", {})
    for axis, levels in axes.items():
        if not isinstance(levels, list) or not levels:
            raise GridError(f"{where}: axis {axis!r} must be a non-empty list")
        labels = [level_settings(axis, level)[0] for level in levels]
        duplicates = sorted({lab for lab in labels if labels.count(lab) > 1})
        if duplicates:
            raise GridError(
                f"{where}: axis {axis!r} has the label {duplicates[0]!r} twice; "
                f"give each level a distinct 'label'"
            )
    return block.get("base", {}), axes


def combinations(axes):
    """(labels, settings, own candidates) of every combination of the axes' levels, in order; a
    level's own "tune" candidates (see ablations/tuning.py) are taken out of its settings."""
    for combo in itertools.product(*axes.values()):
        labels, settings, own = {}, {}, {}
        for axis, level in zip(axes, combo):
            labels[axis], level_values = level_settings(axis, level)
            own.update(level_values.pop("tune", {}))
            settings.update(level_values)
        yield labels, settings, own


def make_run(where, labels, settings, seen):
    """A validated Run; GridError if `seen` (run_id -> Run) already holds its settings."""
    run_where = f"{where} run {'/'.join(labels.values()) or '(base)'}"
    config = stamp(resolve(settings, run_where))  # + the hashes of the plugins it uses, if any
    rid = run_id(config)
    if rid in seen:
        raise GridError(
            f"{run_where}: duplicate entry, same settings as {seen[rid].describe() or '(base)'}"
        )
    seen[rid] = Run(rid, labels, config)
    return seen[rid]


def expand_block(where, block, seen):
    """The runs of one block without a 'tune' spec, in axis order."""
    base, axes = check_block(where, block)
    runs = []
    for labels, settings, own in combinations(axes):
        if own:
            raise GridError(
                f"{where}: a level carries tune candidates but the block has no 'tune' spec"
            )
        runs.append(make_run(where, labels, {**base, **settings}, seen))
    return runs


def expand_grid(name, blocks):
    """All runs of grid `name`, validated; GridError on the first bad or duplicate entry. A
    tuned block's final runs depend on its tuning results: ablations.run.tuning.plan_grid expands
    grids with tuned blocks."""
    if not isinstance(blocks, list) or not blocks:
        raise GridError(f"grid {name!r}: must be a non-empty list of blocks")
    runs, seen = [], {}
    for b, block in enumerate(blocks):
        where = f"grid {name!r} block {b}"
        if isinstance(block, dict) and "tune" in block:
            raise GridError(
                f"{where}: a tuned block's final runs depend on its tuning results; "
                f"expand it with ablations.run.tuning.plan_grid"
            )
        runs.extend(expand_block(where, block, seen))
    return runs


def filter_runs(runs, only):
    """Keep runs matching every `key=value` in `only` ("a=1,b=2"; a key given twice keeps
    either value), on axis labels or settings. GridError (one line, with a close match and the
    valid levels) for a key or value that no run has, or a combination that selects no run."""
    wanted = parse_only(only)
    levels = {}  # key -> every value it takes in `runs`, as --only compares them (strings)
    for run in runs:
        for key in {*run.labels, *run.config}:
            levels.setdefault(key, set()).add(_only_value(run, key))
    for key, values in wanted.items():
        if key not in levels:
            raise GridError("--only: " + unknown_name_message("key", key, levels))
        missing = sorted(values - levels[key])
        if missing:
            raise GridError(
                f"--only: {key}: " + unknown_name_message("level", missing[0], levels[key])
            )
    selected = matching_runs(runs, only)
    if wanted and not selected:
        raise GridError(f"--only: no run has {only!r} (each value exists, but not together)")
    return selected


def matching_runs(runs, only):
    """The runs matching every `key=value` of `only`, as filter_runs, without its checks: for a
    subset of runs already checked (a phase of a tuned grid, say)."""
    wanted = parse_only(only)
    return [r for r in runs if all(_only_value(r, key) in values for key, values in wanted.items())]


def parse_only(only):
    """{key: {values}} of an --only string "a=1,b=2,a=3"; GridError for a part without '='."""
    wanted = {}
    for part in filter(None, (only or "").split(",")):
        key, sep, value = part.partition("=")
        if not sep:
            raise GridError(f"--only: expected key=value, got {part!r}")
        wanted.setdefault(key.strip(), set()).add(value.strip())
    return wanted


def _only_value(run, key):
    """The value --only compares for `key`: the axis label, else the setting, as a string."""
    return str(run.labels[key] if key in run.labels else run.config.get(key))


def describe(settings):
    """Settings as text, "key=value,..." in their order: a tuning trial's name in tuning.json,
    and a selection as the report prints it."""
    return ",".join(f"{k}={v}" for k, v in settings.items())
