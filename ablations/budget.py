"""Wall-time estimate of grids before they run, from the per-run times of committed records.

A run's seconds = overhead + epochs * (train_rows / REFERENCE_ROWS * train_s + val_rows /
REFERENCE_ROWS_VAL * eval_s) * weights / REFERENCE_WEIGHTS, with train_s, eval_s (per epoch) and
the overhead (wall - train - eval: loading, building, the final test and train passes) the
medians of records of the reference setup (784-256-128-10, batch 128, 50,000 training and 10,000
validation rows), measured with two workers side by side. Cost scales with the weight count
(matrix products dominate, README Performance); the split is reloaded for each run (a seed
stream of its own), `SPLIT_RELOAD_S` more. A grid with tuned blocks is counted as if every trial
scored alike (so finals take each cell's first candidate, and halving keeps its share).
"""
import math
import statistics
from dataclasses import dataclass

from .records import SCHEMA_VERSION
from .tuning import plan_grid

REFERENCE = {"hidden": [256, 128], "batch_size": 128, "train_size": None, "val_size": None}
REFERENCE_ROWS, REFERENCE_ROWS_VAL = 50_000, 10_000
REFERENCE_WEIGHTS = 784 * 256 + 256 * 128 + 128 * 10
SPLIT_RELOAD_S = 0.5  # load_splits of MNIST on this machine, busy: 0.15-0.75 s by normalization
DATASET_ROWS = {"mnist": (50_000, 10_000, 784, 10), "fashion_mnist": (50_000, 10_000, 784, 10),
                "digits": (1_077, 270, 64, 10)}


@dataclass(frozen=True)
class Rates:
    train_s: float  # per epoch of the reference setup
    eval_s: float  # per validation pass of the reference setup
    overhead_s: float  # per run
    n_records: int


def measured_rates(records):
    """Median per-epoch train and eval seconds and per-run overhead of the `records` (dicts)
    that ran the reference setup on MNIST or Fashion-MNIST with nn_core and finished."""
    rows = [r for r in records if r.get("status") == "ok" and r["config"].get("trainer") ==
            "nn_core" and r["config"]["dataset"] in ("mnist", "fashion_mnist")
            and all(r["config"].get(k) == v for k, v in REFERENCE.items())]
    if not rows:
        raise ValueError("no finished nn_core record of the reference setup to measure")
    train = [r["train_time_s"] / r["epochs_run"] for r in rows]
    evals = [r["eval_time_s"] / r["epochs_run"] for r in rows]
    overhead = [r["wall_time_s"] - r["train_time_s"] - r["eval_time_s"] for r in rows]
    return Rates(statistics.median(train), statistics.median(evals), statistics.median(overhead),
                 len(rows))


def run_seconds(config, rates):
    """Estimated wall seconds of one run (see the module docstring)."""
    n_train, n_val, d_in, k = DATASET_ROWS[config["dataset"]]
    n_train = min(n_train, config["train_size"] or n_train)
    n_val = config["val_size"] or n_val
    sizes = [d_in, *config["hidden"], k]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) / REFERENCE_WEIGHTS
    per_epoch = (n_train / REFERENCE_ROWS * rates.train_s + n_val / REFERENCE_ROWS_VAL
                 * rates.eval_s) * weights
    # one scoring pass more than the records measured: the training rows, for train_acc
    return rates.overhead_s + SPLIT_RELOAD_S + rates.eval_s * weights + config["epochs"] * per_epoch


def full_plan_runs(name, blocks):
    """Every run a grid will train if all trials score alike (tuning, then finals)."""
    records, runs = {}, []
    while True:
        plan = plan_grid(name, blocks, records)
        runs = plan.all_runs()
        new = [r for r in runs if r.run_id not in records]
        if not new:
            return runs
        records.update({r.run_id: {"schema": SCHEMA_VERSION, "status": "ok", "final_val_acc": 0.5,
                                   "best_val_acc": 0.5} for r in new})


def estimate(grids, rates, workers=2):
    """[(grid, runs, worker seconds)] and the total wall minutes with `workers` in parallel."""
    rows = []
    for name, blocks in grids.items():
        runs = full_plan_runs(name, blocks)
        rows.append((name, len(runs), sum(run_seconds(r.config, rates) for r in runs)))
    return rows, math.fsum(seconds for _, _, seconds in rows) / workers / 60


def main():
    """Print the showcase's estimate from the committed default records."""
    from pathlib import Path

    from .grids import GRIDS, SHOWCASE
    from .records import read_records

    folder = Path(__file__).resolve().parents[1] / "results" / "default"
    rates = measured_rates(read_records(folder, log=lambda line: None, set_aside=False).values())
    print(f"measured on {rates.n_records} records of {folder}: {rates.train_s:.3f} s train and "
          f"{rates.eval_s:.3f} s eval per epoch, {rates.overhead_s:.2f} s per run besides")
    rows, minutes = estimate({name: GRIDS[name] for name in SHOWCASE}, rates)
    for name, runs, seconds in rows:
        print(f"{name}: {runs} runs, {seconds / 60:.1f} worker min")
    print(f"showcase: {sum(r[1] for r in rows)} runs, about {minutes:.0f} min wall with 2 workers")


if __name__ == "__main__":
    main()
