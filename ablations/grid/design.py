"""A grid's design: how many of its runs train before its verdicts are read.

- "full" (the default): every run of the grid trains, then the report reads them.
- "sequential": the final seeds are split into W waves and the runs train wave by wave; after
  each wave the looks of every open test are taken from the records (analysis/sequential_design.py)
  and only what an open test still needs trains (ablations/waves.py).

Declared in a block of the grid, `"design": "sequential"` or
`"design": {"kind": "sequential", "waves": W, "alpha": a}` (blocks that declare one must agree;
a block that says nothing follows them), or chosen for a session with `--design`.

The design never enters a run id: a run's result depends only on its settings, not on whether a
sequential or a full design asked for it, so both designs share their records (a sequential
session's runs are the full design's runs, and a full run later trains only the rest).

Waves: the grid's final seeds, in the order the blocks list them, split into W consecutive groups
as evenly as possible with the larger groups first (numpy.array_split), so with S seeds and
1 <= W <= S - 1 the first wave has at least two seeds, the fewest from which every cell has a
variance of its own (the Welch fixed-cells test). Default W = S - 1: two seeds, then one per wave.
"""

from dataclasses import dataclass

import numpy as np

from nn_core.registry import unknown_name_message

from .config import GridError
from .expand import level_settings

FULL, SEQUENTIAL = "full", "sequential"
DESIGN_KINDS = {
    FULL: "every run trains",
    SEQUENTIAL: "seed waves; after each, only what an undecided test needs trains",
}
DESIGN_KEYS = ("kind", "waves", "alpha")
ALPHA = 0.05  # the family-wise error rate of the sequential tests (the report's too)
REPLICATE = "seed"


@dataclass(frozen=True)
class Design:
    """kind (FULL or SEQUENTIAL); waves W (None for FULL); alpha of the family."""

    kind: str = FULL
    waves: int = None
    alpha: float = ALPHA

    @property
    def sequential(self):
        return self.kind == SEQUENTIAL

    def as_dict(self):
        return {"kind": self.kind, "waves": self.waves, "alpha": self.alpha}


def grid_seeds(blocks):
    """The final seeds of a grid's blocks (each block's 'seed' axis, else its base seed), each
    once, in the order the blocks list them."""
    seeds = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        levels = block.get("axes", {}).get(REPLICATE)
        if isinstance(levels, list):
            seeds.extend(level_settings(REPLICATE, lv)[1].get(REPLICATE) for lv in levels)
        elif REPLICATE in block.get("base", {}):
            seeds.append(block["base"][REPLICATE])
    return list(dict.fromkeys(s for s in seeds if s is not None))


def seed_waves(seeds, waves):
    """{seed: wave (1-based)}: `seeds` (in order) split into `waves` consecutive groups, larger
    groups first (numpy.array_split)."""
    groups = np.array_split(np.arange(len(seeds)), waves)
    return {seeds[int(i)]: w + 1 for w, group in enumerate(groups) for i in group}


def parse_design(name, blocks, chosen=None):
    """The Design of grid `name` (its blocks' "design" key), or `chosen` ('full' or
    'sequential', the --design flag) in its place with the grid's waves if it declares them.
    GridError (one line naming the valid choices) for a bad value."""
    where = f"grid {name!r}"
    declared = [
        (b, block["design"])
        for b, block in enumerate(blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict) and "design" in block
    ]
    specs = [design_spec(f"{where} block {b}", value) for b, value in declared]
    if any(spec != specs[0] for spec in specs[1:]):
        raise GridError(f"{where}: its blocks declare different designs: {specs[0]} and others")
    spec = dict(specs[0]) if specs else {"kind": FULL}
    if chosen is not None:
        if chosen not in DESIGN_KINDS:
            raise GridError("--design: " + unknown_name_message("design", chosen, DESIGN_KINDS))
        spec["kind"] = chosen
    if spec["kind"] == FULL:
        return Design()
    seeds = grid_seeds(blocks)
    if len(seeds) < 2:
        raise GridError(
            f"{where}: a sequential design needs 2 final seeds or more (it has {len(seeds)}); "
            f"add seeds or use the full design"
        )
    waves = spec.get("waves", len(seeds) - 1)
    if isinstance(waves, bool) or not isinstance(waves, int) or not 1 <= waves <= len(seeds) - 1:
        raise GridError(
            f"{where}: design waves must be an integer from 1 to {len(seeds) - 1} (its "
            f"{len(seeds)} final seeds less one: the first wave needs two), got {waves!r}"
        )
    alpha = spec.get("alpha", ALPHA)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise GridError(f"{where}: design alpha must be a number in (0, 0.5), got {alpha!r}")
    return Design(SEQUENTIAL, waves, float(alpha))


def design_spec(where, value):
    """A block's "design" value as a dict with 'kind' (and maybe 'waves', 'alpha'), or
    GridError."""
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, dict):
        raise GridError(
            f"{where}: design must be {' or '.join(map(repr, DESIGN_KINDS))} or a dict with "
            f"keys {', '.join(DESIGN_KEYS)}, got {value!r}"
        )
    for key in value:
        if key not in DESIGN_KEYS:
            raise GridError(
                f"{where}: design: " + unknown_name_message("design key", key, DESIGN_KEYS)
            )
    kind = value.get("kind")
    if kind not in DESIGN_KINDS:
        raise GridError(
            f"{where}: design: " + unknown_name_message("design", str(kind), DESIGN_KINDS)
        )
    if kind == FULL and set(value) - {"kind"}:
        raise GridError(f"{where}: design: the full design takes no waves or alpha")
    return value
