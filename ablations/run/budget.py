"""Wall-time estimate of grids before they run, from the per-run times of committed records.

A run's seconds = overhead + epochs * (train_rows / REFERENCE_ROWS * train_s + val_rows /
REFERENCE_ROWS_VAL * eval_s) * weights / REFERENCE_WEIGHTS, with train_s, eval_s (per epoch) and
the overhead (wall - train - eval: loading, building, the final test and train passes) the
medians of records of the reference setup (784-256-128-10, batch 128, 50,000 training and 10,000
validation rows), measured with two workers side by side. Cost scales with the weight count
(matrix products dominate, docs/performance.md) and the rows, the overhead's passes too: only
RUN_FLOOR_S of it is fixed. The split is reloaded for each run (a seed stream of its own),
SPLIT_RELOAD_S more for MNIST's 60,000 x 784 pixels, in proportion to a dataset's. A user dataset's
rows are read from its verified cache. A grid with tuned blocks is counted as if every trial
scored alike (so finals take each cell's first candidate, and halving keeps its share).

`plan_costs` is what a session will train, grid by grid, before it starts (printed by the
command line), from REFERENCE_RATES: the rates of the committed default records, frozen so that
an installed package, which has no records, can estimate too.
"""

import functools
import math
import statistics
from dataclasses import dataclass

import numpy as np

from ablations.data.datasets import DATASETS, DatasetError, default_data_dir
from ablations.data.idx import IdxFormatError
from ablations.grid.expand import matching_runs
from ablations.records.schema import BUDGET, SCHEMA_VERSION, columns
from .tuning import plan_grid

REFERENCE = {"hidden": [256, 128], "batch_size": 128, "train_size": None, "val_size": None}
REFERENCE_ROWS, REFERENCE_ROWS_VAL = 50_000, 10_000
REFERENCE_WEIGHTS = 784 * 256 + 256 * 128 + 128 * 10
SPLIT_RELOAD_S = 0.5  # load_splits of MNIST on this machine, busy: 0.15-0.75 s by normalization
REFERENCE_PIXELS = (REFERENCE_ROWS + REFERENCE_ROWS_VAL) * 784  # what SPLIT_RELOAD_S loads
# The part of a run's overhead that no size changes (dispatch, building the model, the record):
# 10-epoch runs of 64-32-10 on digits took 0.07 s beyond their train and eval time (two workers).
RUN_FLOOR_S = 0.07
DATASET_ROWS = {
    "mnist": (50_000, 10_000, 784, 10),
    "fashion_mnist": (50_000, 10_000, 784, 10),
    "digits": (1_077, 270, 64, 10),
}


@dataclass(frozen=True)
class Rates:
    train_s: float  # per epoch of the reference setup
    eval_s: float  # per validation pass of the reference setup
    overhead_s: float  # per run
    n_records: int


# measured_rates of the committed results/default (1586 records, two workers side by side on
# this project's 2-core machine; tests/test_budget.py checks they still agree).
REFERENCE_RATES = Rates(train_s=1.153, eval_s=0.069, overhead_s=0.75, n_records=1586)


def measured_rates(records):
    """Median per-epoch train and eval seconds and per-run overhead of the `records` (dicts)
    that ran the reference setup on MNIST or Fashion-MNIST with nn_core and finished; of each,
    only the fields records/schema.py says the budget reads."""
    records = [{key: r.get(key) for key in columns(BUDGET)} for r in records]
    rows = [
        r
        for r in records
        if r["status"] == "ok"
        and r["config"].get("trainer") == "nn_core"
        and r["config"]["dataset"] in ("mnist", "fashion_mnist")
        and all(r["config"].get(k) == v for k, v in REFERENCE.items())
    ]
    if not rows:
        raise ValueError("no finished nn_core record of the reference setup to measure")
    train = [r["train_time_s"] / r["epochs_run"] for r in rows]
    evals = [r["eval_time_s"] / r["epochs_run"] for r in rows]
    overhead = [r["wall_time_s"] - r["train_time_s"] - r["eval_time_s"] for r in rows]
    return Rates(
        statistics.median(train), statistics.median(evals), statistics.median(overhead), len(rows)
    )


def run_seconds(config, rates, data_dir=None):
    """Estimated wall seconds of one run (see the module docstring); `data_dir` holds the cache
    a user dataset's rows are read from (default: default_data_dir())."""
    n_train, n_val, d_in, k = dataset_rows(config["dataset"], data_dir)
    n_train = min(n_train, config["train_size"] or n_train)
    n_val = config["val_size"] or n_val
    sizes = [d_in, *config["hidden"], k]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) / REFERENCE_WEIGHTS
    per_epoch = (
        n_train / REFERENCE_ROWS * rates.train_s + n_val / REFERENCE_ROWS_VAL * rates.eval_s
    ) * weights
    passes = (n_train + n_val) / (REFERENCE_ROWS + REFERENCE_ROWS_VAL) * weights
    overhead = RUN_FLOOR_S + max(rates.overhead_s - RUN_FLOOR_S, 0.0) * passes
    reload = SPLIT_RELOAD_S * (n_train + n_val) * d_in / REFERENCE_PIXELS
    # one scoring pass more than the records measured: the training rows, for train_acc
    return overhead + reload + rates.eval_s * weights + config["epochs"] * per_epoch


@functools.lru_cache(maxsize=None)
def dataset_rows(name, data_dir=None):
    """(train, validation, input, class) sizes of a dataset: DATASET_ROWS, else its declaration
    with the training rows of its cache under `data_dir` (fetched before the plan is made;
    REFERENCE_ROWS where it is not cached yet)."""
    if name in DATASET_ROWS:
        return DATASET_ROWS[name]
    dataset = DATASETS[name]
    try:
        rows = len(dataset.load_raw(data_dir or default_data_dir())["train_labels"])
    except (DatasetError, IdxFormatError):
        rows = REFERENCE_ROWS + dataset.val_size
    return (
        rows - dataset.val_size,
        dataset.val_size,
        int(np.prod(dataset.image_shape)),
        dataset.n_classes,
    )


def remaining_plan(name, blocks, finished):
    """(every run of the grid, training phases left) given the `finished` records: the plan they
    give, then trial by trial as if every new trial scored alike (tuning rungs, then finals)."""
    records, phases = dict(finished), 0
    while True:
        runs = plan_grid(name, blocks, records).all_runs()
        new = [r for r in runs if r.run_id not in records]
        if not new:
            return runs, phases
        phases += 1
        records.update(
            {
                r.run_id: {
                    "schema": SCHEMA_VERSION,
                    "status": "ok",
                    "final_val_acc": 0.5,
                    "best_val_acc": 0.5,
                }
                for r in new
            }
        )


def full_plan_runs(name, blocks):
    """Every run a grid will train if all trials score alike (tuning, then finals)."""
    return remaining_plan(name, blocks, {})[0]


@dataclass(frozen=True)
class GridCost:
    name: str
    runs: list  # every run of the grid (or of its --only selection)
    to_train: list  # those without a finished record (all of them with --force)
    phases: int  # training phases left (a tuned grid trains its tuning rungs, then its finals)
    seconds: float  # worker seconds to train `to_train`


def plan_costs(grids, finished, rates=REFERENCE_RATES, only=None, force=False, data_dir=None):
    """[GridCost] of {name: blocks} given {name: {run_id: finished record}}."""
    costs = []
    for name, blocks in grids.items():
        runs, phases = remaining_plan(name, blocks, {} if force else finished[name])
        runs = matching_runs(runs, only) if only else runs
        todo = [r for r in runs if force or r.run_id not in finished[name]]
        costs.append(
            GridCost(
                name,
                runs,
                todo,
                phases if todo else 0,
                math.fsum(run_seconds(r.config, rates, data_dir) for r in todo),
            )
        )
    return costs


def estimate(grids, rates, workers=2):
    """[(grid, runs, worker seconds)] and the total wall minutes with `workers` in parallel."""
    rows = []
    for name, blocks in grids.items():
        runs = full_plan_runs(name, blocks)
        rows.append((name, len(runs), sum(run_seconds(r.config, rates) for r in runs)))
    return rows, math.fsum(seconds for _, _, seconds in rows) / workers / 60
