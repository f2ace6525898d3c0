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

from ablations.data.datasets import DATASETS, validation_size
from ablations.grid.config import GridError
from ablations.records.schema import REPORT, columns, numeric
from ablations.records.store import GRID_FILE, TUNING_FILE, read_records
from ..diagnostics import n_test_images
from ..stats.bootstrap import RESAMPLES, bootstrap_weights, label_codes
from .columns import REGIME, REPLICATE, SPLIT, STREAM_AXES
from .contrasts import contrast_family
from .needs import ReportNeeds

SEED = 20261123  # base seed of every bootstrap in the report
RECORD_FIELDS = list(columns(REPORT))  # records/schema.py: the fields the report reads
NUMERIC = list(numeric(RECORD_FIELDS))


@dataclass(frozen=True)
class ReportData:
    """Everything a section may read. `df` has the columns run_id, dataset, seed, one per factor
    (a label column of grid.json; runs without that label get 'n/a'), the STREAM_AXES a grid
    has, RECORD_FIELDS, n_test (the test images behind test_acc, from the confusion
    matrix; nan without one) and n_val (the validation images of its split; 0 if unknown)."""

    grid: str
    df: pd.DataFrame
    factors: tuple
    records: dict  # run_id -> record
    configs: dict  # run_id -> config, for every run of the saved grid
    results_dir: Path
    data_dir: Path
    runs: tuple = ()  # the saved grid's runs, as in grid.json
    tuning: dict = None  # results/<grid>/tuning.json of a tuned grid, else None
    needs: ReportNeeds = ReportNeeds()  # what the grid's study declared its report needs

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
        """The factors with at least two levels."""
        return [f for f in self.factors if len(self.levels(f)) > 1]

    @cached_property
    def regimes(self):
        """The levels of the regime axis, or [None] for a grid without one."""
        return self.levels(REGIME) if REGIME in self.factors else [None]

    def in_regime(self, frame, regime):
        """The rows of `frame` in `regime` (all of them for regime None)."""
        return frame if regime is None else frame[frame[REGIME] == regime]

    def levels_in(self, factor, regime):
        """The levels of `factor` that runs of `regime` have, in grid order; first the baseline
        (looked up once per factor and regime)."""
        key = ("levels_in", factor, regime)
        if key not in self.memo:
            self.memo[key] = list(dict.fromkeys(self.in_regime(self.df, regime)[factor]))
        return list(self.memo[key])

    @cached_property
    def memo(self):
        """Values computed once per report from this data, by key (the data is frozen)."""
        return {}

    def contrasted(self, regime):
        """The factors contrasted within `regime`: every factor but the regime itself with at
        least two levels there (regularization is not contrasted where only `none` ran)."""
        return [f for f in self.factors if f != REGIME and len(self.levels_in(f, regime)) > 1]

    def ok_on(self, dataset):
        return self.ok[self.ok[SPLIT] == dataset]

    def config_means(self, frame):
        """Mean/std test accuracy and mean final validation accuracy per configuration (all
        factors but the seed)."""
        return (
            frame.groupby([SPLIT, *self.factors], sort=False)
            .agg(
                val_acc_mean=("final_val_acc", "mean"),
                test_acc_mean=("test_acc", "mean"),
                test_acc_std=("test_acc", "std"),
                seeds=("test_acc", "count"),
                train_time_s=("train_time_s", "mean"),
            )
            .reset_index()
        )

    @cached_property
    def choices(self):
        """{dataset: (best, runner-up)} for each dataset with finished runs: the configurations
        (config_means rows) with the best and second-best mean final validation accuracy
        (runner-up None if there is one configuration). The report chooses on validation, once:
        the summary reports the choice's test accuracy and the best-model section draws it.
        Accuracies on validation sets of different sizes do not compare, so only the runs on
        the dataset's largest validation set take part (`left_out_of_choice` names the rest)."""
        chosen = {}
        for dataset in self.datasets:
            part = self.ok_on(dataset)
            if part.empty:  # its runs are all pending or failed
                continue
            part = part[part["n_val"] == part["n_val"].max()]
            ranked = self.config_means(part).sort_values(
                "val_acc_mean", ascending=False, kind="stable"
            )
            chosen[dataset] = ranked.iloc[0], (ranked.iloc[1] if len(ranked) > 1 else None)
        return chosen

    def left_out_of_choice(self, dataset):
        """{validation size: number of configurations} of `dataset`'s finished runs judged on a
        validation set smaller than its largest, which `choices` leaves out ({} if none is)."""
        part = self.ok_on(dataset)
        smaller = part[part["n_val"] < part["n_val"].max()]
        return {int(n): len(self.config_means(runs)) for n, runs in smaller.groupby("n_val")}

    def runs_of(self, frame, config):
        """The rows of `frame` (one per run) of one configuration (a config_means row)."""
        return frame[
            (frame[SPLIT] == config[SPLIT])
            & (frame[list(self.factors)] == config[list(self.factors)]).all(axis=1)
        ]

    @staticmethod
    def rng(*key):
        """A generator seeded by SEED and `key` (strings and numbers): the same key always gives
        the same stream, independent of what else the report computed before."""
        return np.random.default_rng([SEED, zlib.crc32(repr(key).encode())])

    @cached_property
    def _weights(self):
        return {}

    def bootstrap_weights(self, strata, resamples=RESAMPLES):
        """Stratified-bootstrap counts (resamples, n) for n rows in cells `strata`; None where no
        cell has two rows. Drawn once per layout of cells (the row -> cell pattern, up to the
        cells' names) and seeded by that layout, so every statistic of rows laid out alike
        (the levels of a factor, the contrasts of a factor, either dataset) shares one draw,
        whatever order the sections ask in. Each interval is still a stratified-bootstrap
        interval of its own statistic; intervals of different statistics are correlated."""
        codes = label_codes(strata)
        key = (codes.tobytes(), resamples)
        if key not in self._weights:
            self._weights[key] = bootstrap_weights(
                strata, self.rng("weights", zlib.crc32(key[0]), len(codes)), resamples
            )
        return self._weights[key]

    @cached_property
    def _siblings(self):
        return {self.grid: self}

    def sibling(self, grid):
        """The ReportData of `grid`'s results beside this one (this one for its own name),
        loaded once per report however many sections read it; None if it was never run."""
        if grid not in self._siblings:
            try:
                self._siblings[grid] = load_data(grid, self.results_dir, self.data_dir)
            except FileNotFoundError:
                self._siblings[grid] = None
        return self._siblings[grid]

    @cached_property
    def contrasts(self):
        """contrasts.contrast_family of this data, computed once, on first use."""
        return contrast_family(self)

    @cached_property
    def unique(self):
        """`df` with each run once: a run that serves two regimes (the same settings, so one
        run id and one record, e.g. a tuned lr equal to the default) is listed under both in
        grid.json; here it is its first row. Counts and times of runs read this."""
        return self.df.drop_duplicates("run_id")

    @cached_property
    def importance(self):
        """{(regime, dataset): Importance} for each regime (None without a regime axis) and
        dataset where a factor varies: the variance decomposition of test accuracy within that
        sub-design (regimes are separate protocols, never pooled), over the factors with two or
        more levels among its runs, each finished run once; no shares where a cell of those
        factors has no finished run."""
        from ..stats.factorial import balance, variance_decomposition

        found = {}
        for regime in self.regimes:
            for dataset in self.datasets:
                rows = self.in_regime(self.df[self.df[SPLIT] == dataset], regime)
                factors = tuple(f for f in self.factors if f != REGIME and rows[f].nunique() > 1)
                if not factors:
                    continue
                ok = rows[rows["status"] == "ok"].drop_duplicates("run_id")
                shape = balance(ok, factors, int(np.prod([rows[f].nunique() for f in factors])))
                shares = (
                    variance_decomposition(
                        ok, factors, "test_acc", self.rng("importance", regime, dataset)
                    )
                    if shape.complete
                    else {}
                )
                planned = rows.groupby(list(factors)).ngroups
                found[regime, dataset] = Importance(factors, shape, shares, planned)
        return found


@dataclass(frozen=True)
class Importance:
    """One sub-design's variance decomposition: the factors it is over, how its finished runs
    fill their cells (stats.factorial.Balance), {source: (share, low, high)} ({} if none) and
    how many of the cells the grid has runs for (fewer than balance.cells where it does not
    cross the factors fully, e.g. an lr axis with other values per optimizer)."""

    factors: tuple
    balance: object
    shares: dict
    planned: int


def n_val_images(config):
    """Validation images a run was judged on (datasets.validation_size; 0 for a dataset this
    checkout does not register)."""
    dataset = config.get("dataset")
    return validation_size(dataset, config.get("val_size")) if dataset in DATASETS else 0


def read_plan(path):
    """The runs that grid.json at `path` lists, as the runner saved them: a list of
    {"run_id": str, "labels": dict, "config": dict with "dataset" and "seed"}. GridError (one line,
    exit 2 at the command line) naming the file and what is wrong with it when it is not that
    (truncated by a crash or a full disk, edited by hand): the report is never drawn from part of
    a plan. Running the grid again rewrites the file and trains only runs without a record."""
    fix = "run its grid again to rewrite it (finished runs are not retrained)"
    try:
        runs = json.loads(path.read_text())
    except ValueError as err:  # json's JSONDecodeError, or bytes that are not UTF-8
        raise GridError(f"{path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(runs, list):
        raise GridError(f"{path}: holds {type(runs).__name__}, not a list of runs; {fix}")
    for i, run in enumerate(runs):
        if not (
            isinstance(run, dict)
            and isinstance(run.get("run_id"), str)
            and isinstance(run.get("labels"), dict)
            and isinstance(run.get("config"), dict)
            and {"dataset", "seed"} <= set(run["config"])
        ):
            raise GridError(
                f"{path}: run {i} is not a run (run_id, labels, and a config with dataset and "
                f"seed); {fix}"
            )
    return runs


def load_data(grid, results_dir, data_dir, needs=ReportNeeds(), runs=None):
    """ReportData of results/<grid>/ (whose report needs `needs`); FileNotFoundError if the grid
    was never run, GridError if its grid.json is not whole (read_plan). `runs`: the grid's runs
    as read_plan gives them, to read in place of grid.json (a sequential grid's wave runner
    adds the finals still waiting for tuning; a run without a record is pending)."""
    folder = Path(results_dir) / grid
    if runs is None:
        if not (folder / GRID_FILE).is_file():
            raise FileNotFoundError(f"no results for grid {grid!r} in {folder}")
        runs = read_plan(folder / GRID_FILE)
    records = read_records(folder, move_newer=False)  # a corrupt record set aside; a newer one left
    axes = list(dict.fromkeys(k for run in runs for k in run["labels"]))
    factors = tuple(a for a in axes if a not in (SPLIT, REPLICATE, *STREAM_AXES))
    streams = [a for a in axes if a in STREAM_AXES]
    rows = []
    for run in runs:
        record = records.get(run["run_id"], {"status": "pending"})
        # the config's dataset and seed, not the axis labels of the same name ("0" for 0)
        row = {
            "run_id": run["run_id"],
            SPLIT: run["config"]["dataset"],
            REPLICATE: run["config"]["seed"],
            **{f: str(run["labels"].get(f, "n/a")) for f in [*factors, *streams]},
        }
        row.update(
            {key: record.get(key) for key in RECORD_FIELDS},
            n_test=n_test_images(record),
            n_val=n_val_images(run["config"]),
        )
        rows.append(row)
    df = pd.DataFrame(
        rows,
        columns=["run_id", SPLIT, REPLICATE, *factors, *streams, *RECORD_FIELDS, "n_test", "n_val"],
    )
    df[NUMERIC] = df[NUMERIC].apply(pd.to_numeric, errors="coerce")
    df["s_per_epoch"] = df["train_time_s"] / df["epochs_run"]
    configs = {run["run_id"]: run["config"] for run in runs}
    tuning = folder / TUNING_FILE
    return ReportData(
        grid,
        df,
        factors,
        records,
        configs,
        Path(results_dir),
        Path(data_dir),
        tuple(runs),
        json.loads(tuning.read_text()) if tuning.is_file() else None,
        needs,
    )


def grids_with_results(data, grids):
    """The ReportData of each of `grids` that has results beside data's (data itself for its
    own name), in order; grids never run are skipped."""
    return (other for other in map(data.sibling, grids) if other is not None)
