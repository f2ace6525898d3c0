"""The report's one frame, built once from the records: a tidy DataFrame (one row per run of the
saved grid), the ok subset, the factors, datasets and records, and per-key seeded generators so
that every bootstrap gives the same numbers whatever order the sections run in.
"""
import json
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..records import GRID_FILE, read_records
from ..stats.bootstrap import bootstrap_weights

SPLIT, REPLICATE = "dataset", "seed"
POINTS = 100.0  # accuracies are reported in percentage points
SEED = 20261123  # base seed of every bootstrap in the report
NUMERIC = ["test_acc", "test_loss", "best_val_acc", "train_time_s", "eval_time_s", "wall_time_s",
           "epochs_run", "epochs_to_target", "seconds_to_target"]
RECORD_FIELDS = [*NUMERIC, "status", "n_params", "error", "finished_at", "code_version"]


@dataclass(frozen=True)
class ReportData:
    """Everything a section may read. `df` has the columns run_id, dataset, seed, one per factor
    (a label column of grid.json; runs without that label get 'n/a'), and RECORD_FIELDS."""

    grid: str
    df: pd.DataFrame
    factors: tuple
    records: dict  # run_id -> record
    configs: dict  # run_id -> config, for every run of the saved grid
    results_dir: Path
    data_dir: Path

    @cached_property
    def ok(self):
        return self.df[self.df["status"] == "ok"]

    @cached_property
    def datasets(self):
        return sorted(self.df[SPLIT].unique())

    def levels(self, factor):
        """The levels of `factor` in the order the grid lists them; the first is the baseline."""
        return list(dict.fromkeys(self.df[factor]))

    def baseline(self, factor):
        return self.levels(factor)[0]

    def compared(self):
        """The factors with at least two levels: the ones contrasts are computed for."""
        return [f for f in self.factors if len(self.levels(f)) > 1]

    def ok_on(self, dataset):
        return self.ok[self.ok[SPLIT] == dataset]

    def config_means(self, frame):
        """Mean/std test accuracy per configuration (all factors but the seed)."""
        return (frame.groupby([SPLIT, *self.factors], sort=False)
                .agg(test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
                     seeds=("test_acc", "count"), train_time_s=("train_time_s", "mean"))
                .reset_index())

    @staticmethod
    def rng(*key):
        """A generator seeded by SEED and `key` (strings and numbers): the same key always gives
        the same stream, independent of what else the report computed before."""
        return np.random.default_rng([SEED, zlib.crc32(repr(key).encode())])

    @cached_property
    def _weights(self):
        return {}

    def level_weights(self, dataset, factor, level, strata):
        """Stratified-bootstrap counts for the runs of `level` on `dataset` (cells `strata`),
        drawn once and shared by the sections that resample those runs (IQM, profiles,
        curves); None where no cell has two seeds."""
        key = (dataset, factor, level)
        if key not in self._weights:
            self._weights[key] = bootstrap_weights(strata, self.rng("level", *key))
        return self._weights[key]

    @cached_property
    def contrasts(self):
        from .contrasts import contrast_family  # computed once, on first use

        return contrast_family(self)

    @cached_property
    def importance(self):
        """{dataset: variance decomposition of test accuracy with its bootstrap intervals}."""
        from ..stats.factorial import variance_decomposition

        return {d: variance_decomposition(self.ok_on(d), self.factors, "test_acc",
                                          self.rng("importance", d)) for d in self.datasets}


def load_data(grid, results_dir, data_dir):
    """ReportData of results/<grid>/; FileNotFoundError if the grid was never run."""
    folder = Path(results_dir) / grid
    if not (folder / GRID_FILE).is_file():
        raise FileNotFoundError(f"no results for grid {grid!r} in {folder}")
    runs = json.loads((folder / GRID_FILE).read_text())
    records = read_records(folder, set_aside=False)  # the report reads; only runners repair
    axes = list(dict.fromkeys(k for run in runs for k in run["labels"]))
    factors = tuple(a for a in axes if a not in (SPLIT, REPLICATE))
    rows = []
    for run in runs:
        record = records.get(run["run_id"], {"status": "pending"})
        # the config's dataset and seed, not the axis labels of the same name ("0" for 0)
        row = {"run_id": run["run_id"], SPLIT: run["config"]["dataset"],
               REPLICATE: run["config"]["seed"],
               **{f: str(run["labels"].get(f, "n/a")) for f in factors}}
        row.update({key: record.get(key) for key in RECORD_FIELDS})
        rows.append(row)
    df = pd.DataFrame(rows, columns=["run_id", SPLIT, REPLICATE, *factors, *RECORD_FIELDS])
    df[NUMERIC] = df[NUMERIC].apply(pd.to_numeric, errors="coerce")
    df["s_per_epoch"] = df["train_time_s"] / df["epochs_run"]
    configs = {run["run_id"]: run["config"] for run in runs}
    return ReportData(grid, df, factors, records, configs, Path(results_dir), Path(data_dir))
