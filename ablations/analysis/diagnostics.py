"""Diagnostics of a fair comparison, as pure functions on records and DataFrames (no drawing, no
files): lr sensitivity, boundary flags, diverged trials, the inclusion check, generalization gaps,
seed variance by stream, and time to target. Accuracies are fractions; the *_pts columns are
percentage points.

Inputs: `runs_frame(runs, records)` (one row per run of a grid.json list: its labels, the
config fields in CONFIG_COLUMNS and the record fields in RECORD_COLUMNS) and
`trials_frame(tuning, records)` (one row per tuning trial run of a tuning.json document).
"""

import math

import numpy as np
import pandas as pd

from ablations.records.schema import DIAGNOSTICS, columns, numeric

from .stats import aggregates

CONFIG_COLUMNS = ("dataset", "optimizer", "activation", "lr", "seed", "epochs")
RECORD_COLUMNS = columns(DIAGNOSTICS)  # records/schema.py: the fields the diagnostics read
INCLUSION_ORDER = ("sgd", "momentum", "adam")  # Choi et al. 2019: each never worse than the last


def n_test_images(record):
    """Test images behind a record's test accuracy: its confusion matrix's total (nan if it
    has none)."""
    confusion = record.get("test_confusion")
    return float(np.sum(confusion)) if confusion else math.nan


def runs_frame(runs, records):
    """One row per run of `runs` ([{"run_id", "labels", "config"}], as in grid.json); a run
    without a record has status "pending". Labels become columns unless a config column has
    the same name (the config's value is kept: seed 0, not "0")."""
    rows = []
    for run in runs:
        record = records.get(run["run_id"], {"status": "pending"})
        row = {"run_id": run["run_id"], **run["labels"]}
        row.update({key: run["config"].get(key) for key in CONFIG_COLUMNS})
        row.update({key: record.get(key) for key in RECORD_COLUMNS})
        row["val_loss"] = (record.get("history") or {}).get("val_loss", [])
        row["n_test"] = n_test_images(record)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in numeric(RECORD_COLUMNS):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def trials_frame(tuning, records):
    """One row per tuning trial run in a tuning.json document: the cell's labels, the rung's
    epochs, each tuned setting, and the run's validation fields (never a test field)."""
    rows = []
    for cell in tuning["cells"]:
        for rung, stage in enumerate(cell["rungs"]):
            for trial in stage["trials"]:
                for run_id in trial["run_ids"]:
                    record = records.get(run_id, {"status": "pending"})
                    rows.append(
                        {
                            **cell["cell"],
                            "rung": rung,
                            "rung_epochs": stage["epochs"],
                            **trial["settings"],
                            "run_id": run_id,
                            "status": record.get("status"),
                            "final_val_acc": record.get("final_val_acc"),
                            "best_val_acc": record.get("best_val_acc"),
                        }
                    )
    return pd.DataFrame(rows)


def lr_sensitivity(
    trials,
    by=("dataset", "regime", "optimizer", "activation"),
    setting="lr",
    metric="final_val_acc",
):
    """The data of a sensitivity curve: per `by` x setting value, the mean `metric` over the
    trials that finished (status ok), how many did, and how many diverged. Takes each cell's
    first rung, the one where every candidate ran (a hill climb's: the candidates it visited,
    so a curve has a point where a trial exists and no other)."""
    first = trials[trials["rung"] == 0]
    by = [b for b in by if b in first.columns]
    ok = first["status"] == "ok"
    grouped = first.assign(
        ok=ok, diverged=first["status"] == "diverged", value=first[metric].where(ok)
    ).groupby([*by, setting], sort=True)
    return grouped.agg(
        **{metric: ("value", "mean"), "n_ok": ("ok", "sum"), "n_diverged": ("diverged", "sum")}
    ).reset_index()


def boundary_flags(tuning):
    """One row per tuned cell and numeric setting: the selected value, its candidate range, and
    `edge` = "low" / "high" when the winner is the smallest / largest candidate (the range may
    be too narrow there), "finite high" when it is the largest candidate whose every trial did
    not diverge (every larger one diverged: the best value may lie between it and the next),
    else "inside"; `at_edge` says the same as a bool. The range is the cell's "candidates"
    where tuning.json lists them (a hill climb, whose trials are the visited ones only), else its
    first rung's trials. Cells still pending are left out."""
    rows = []
    for cell in tuning["cells"]:
        if cell["selected"] is None:
            continue
        trials = cell["rungs"][0]["trials"]
        options = cell.get("candidates", [t["settings"] for t in trials])
        for setting, value in cell["selected"].items():
            values = [option[setting] for option in options]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                continue
            low, high = min(values), max(values)
            above = [t for t in trials if t["settings"][setting] > value]
            edge = (
                "inside"
                if low == high
                else "low"
                if value == low
                else "high"
                if value == high
                else "finite high"
                if all(t["diverged"] == len(t["run_ids"]) for t in above)
                else "inside"
            )
            rows.append(
                {
                    **cell["cell"],
                    "setting": setting,
                    "selected": value,
                    "low": low,
                    "high": high,
                    "edge": edge,
                    "at_edge": edge != "inside",
                }
            )
    return pd.DataFrame(rows)


def diverged_share(trials, by=("regime", "optimizer")):
    """Per level of `by` (the columns of it that `trials` has): finished trials, diverged ones
    and their share (errors and pending runs are left out: they are not outcomes)."""
    by = [b for b in by if b in trials.columns]
    done = trials[trials["status"].isin(["ok", "diverged"])]
    out = (
        done.assign(diverged=done["status"] == "diverged")
        .groupby(by)["diverged"]
        .agg(n_trials="size", n_diverged="sum")
        .reset_index()
    )
    out["share"] = out["n_diverged"] / out["n_trials"]
    return out


def inclusion_check(
    frame,
    cell=("dataset", "regime", "activation", "regularization"),
    metric="test_acc",
    order=INCLUSION_ORDER,
    z=2.0,
):
    """Choi et al.'s inclusion hierarchy per cell: each optimizer of `order` should do no worse
    than the one before it. For each consecutive pair (lower, upper): the difference of the mean
    `metric` over seeds (upper - lower), its standard error sqrt(s_u^2/n_u + s_l^2/n_l) and,
    beside it, the test set's binomial SE of the difference (n_test: the runs' confusion-matrix
    total); `violated` when the difference is below -z times the larger of the two (worse
    beyond noise)."""
    cell = [c for c in cell if c in frame.columns]
    ok = frame[(frame["status"] == "ok") & frame["optimizer"].isin(order)]
    rows = []
    for key, group in ok.groupby(cell, sort=True):
        stats = group.groupby("optimizer")[metric].agg(["mean", "var", "count"])
        for lower, upper in zip(order[:-1], order[1:]):
            if lower not in stats.index or upper not in stats.index:
                continue
            a, b = stats.loc[upper], stats.loc[lower]
            diff = a["mean"] - b["mean"]
            se_seeds = math.sqrt(
                np.nan_to_num(a["var"]) / a["count"] + np.nan_to_num(b["var"]) / b["count"]
            )
            n_test = group["n_test"].max()
            se_test = math.hypot(
                aggregates.binomial_se(a["mean"], n_test), aggregates.binomial_se(b["mean"], n_test)
            )
            noise = np.fmax(se_seeds, se_test)  # the seeds' alone where n_test is unknown
            rows.append(
                {
                    **dict(zip(cell, key if isinstance(key, tuple) else (key,))),
                    "lower": lower,
                    "upper": upper,
                    "diff_pts": 100 * diff,
                    "se_seeds_pts": 100 * se_seeds,
                    "se_test_pts": 100 * se_test,
                    "violated": bool(diff < -z * noise),
                }
            )
    return pd.DataFrame(rows)


def generalization_gap(frame, by=("regime", "dataset"), baseline=("regularization", "none")):
    """Whether there was anything to regularize: per `by` group, the unregularized baseline's
    train accuracy, final validation accuracy, their gap (mean and std over runs, points), and
    the share of its runs whose validation loss was lowest at their last epoch (training
    stopped before overfitting set in)."""
    by = [b for b in by if b in frame.columns]
    keep = frame["status"] == "ok"
    if baseline[0] in frame.columns:
        keep &= frame[baseline[0]] == baseline[1]
    rows = frame[keep]
    rows = rows.assign(
        gap_pts=100 * (rows["train_acc"] - rows["final_val_acc"]),
        lowest_at_last=[bool(v) and int(np.argmin(v)) == len(v) - 1 for v in rows["val_loss"]],
    )
    out = rows.groupby(by).agg(
        n=("gap_pts", "size"),
        train_acc=("train_acc", "mean"),
        val_acc=("final_val_acc", "mean"),
        gap_pts=("gap_pts", "mean"),
        gap_std_pts=("gap_pts", "std"),
        lowest_val_loss_at_last_epoch=("lowest_at_last", "mean"),
    )
    return out.reset_index()


def stream_runs(group):
    """(source, its runs) for each source of the variance grid's runs `group` (one cell), in
    grid order: "all" is its own runs; a single stream's runs are its own plus the run with
    every stream at 0 (the "all" row of seed 0)."""
    base = group[(group["varied"] == "all") & (group["seed"] == 0)]
    for source in dict.fromkeys(group["varied"]):
        runs = group[group["varied"] == source]
        yield source, (runs if source == "all" else pd.concat([base, runs]))


def seed_variance_by_stream(frame, metric="test_acc", cell=("dataset",)):
    """The variance grid's attribution: per cell and source ("all" streams together, or one
    stream with the others at 0), the runs' `metric` values (an array, for a bootstrap), their
    std in points, the number of runs, and the test set's binomial SE at the mean accuracy for comparison. A stream's runs are its
    own values plus the run with every stream at 0 (the "all" row of seed 0)."""
    ok = frame[frame["status"] == "ok"]
    rows = []
    for key, group in ok.groupby(list(cell), sort=True):
        for source, runs in stream_runs(group):
            values = runs[metric].to_numpy(float)
            rows.append(
                {
                    **dict(zip(cell, key if isinstance(key, tuple) else (key,))),
                    "source": source,
                    "n": len(values),
                    "values": values,
                    "std_pts": 100 * values.std(ddof=1) if len(values) > 1 else math.nan,
                    "binomial_se_pts": 100
                    * aggregates.binomial_se(values.mean(), runs["n_test"].max()),
                }
            )
    return pd.DataFrame(rows)


def time_to_target(frame, budget_s, by="optimizer"):
    """AlgoPerf's score per `by` level: median over seeds of training seconds (the clock paused
    during evaluation: train_time_s excludes it) and of epochs to the validation target, a miss
    (or a diverged run) counting as infinity; runs, misses, and whether the median is within
    `budget_s` (the workload's time budget, e.g. AlgoPerf's 60 s for MNIST)."""
    done = frame[frame["status"].isin(["ok", "diverged"])]
    done = done.assign(
        seconds=done["seconds_to_target"].fillna(math.inf),
        epochs=done["epochs_to_target"].fillna(math.inf),
    )
    out = done.groupby(by).agg(
        n=("seconds", "size"),
        misses=("seconds", lambda s: int(np.isinf(s).sum())),
        median_s=("seconds", "median"),
        median_epochs=("epochs", "median"),
    )
    out["within_budget"] = out["median_s"] <= budget_s
    return out.reset_index()


SITTING_GAP_S = 600.0  # a pause longer than this between runs ends a sitting


def sittings(starts, finishes, gap_s=SITTING_GAP_S):
    """The sittings a set of runs was trained in: one row per sitting (start, finish, runs,
    minutes = finish - start). Runs are taken in order of start; a run that starts more than
    `gap_s` seconds after every earlier run finished opens a new sitting, so the sum of
    `minutes` is the wall time without the gaps between sittings. starts, finishes: datetimes."""
    runs = pd.DataFrame({"start": pd.to_datetime(starts), "finish": pd.to_datetime(finishes)})
    runs = runs.dropna().sort_values(["start", "finish"], kind="stable")
    latest = runs["finish"].cummax().shift()
    opens = (runs["start"] - latest).dt.total_seconds().fillna(math.inf) > gap_s
    out = (
        runs.groupby(opens.cumsum())
        .agg(start=("start", "min"), finish=("finish", "max"), runs=("start", "size"))
        .reset_index(drop=True)
    )
    out["minutes"] = (out["finish"] - out["start"]).dt.total_seconds() / 60
    return out


def lr_by_regularizer(
    frame,
    cell=("dataset", "optimizer", "activation"),
    factor="regularization",
    baseline="none",
    setting="lr",
    metric="final_val_acc",
):
    """Does sharing the baseline's lr cost a regularizer? One row per `cell` and level of
    `factor` other than `baseline`: `shared` the `setting` value that maximizes `metric` for
    the baseline, `own` the value that maximizes it for the level, `at_shared` and `at_own` the
    level's metric at each, `changed` (own != shared) and cost_pts = 100 (at_own - at_shared),
    >= 0, and could_rise: whether any value above `shared` scored above 0 for the level (where
    every one diverged, the level's own value can only be `shared` or lower). As the tuner selects (tuning.py): a diverged run scores 0, ties go to the earlier
    value in `frame`'s order, and the metric is the mean over a value's runs (seeds).
    frame: one row per run with the cell columns, `factor`, `setting`, `metric` and status."""
    frame = frame.assign(score=frame[metric].where(frame["status"] == "ok", 0.0).fillna(0.0))
    rows = []
    for key, part in frame.groupby(list(cell), sort=False):
        scores = part.groupby([factor, setting], sort=False)["score"].mean()

        def best(level):
            values = scores[level]
            return values.index[int(np.argmax(values.to_numpy()))]  # first of the ties

        if baseline not in scores.index.get_level_values(0):
            continue
        shared = best(baseline)
        for level in dict.fromkeys(part[factor]):
            if level == baseline or shared not in scores[level].index:
                continue
            own = best(level)
            rows.append(
                {
                    **dict(zip(cell, key)),
                    factor: level,
                    "shared": shared,
                    "own": own,
                    "at_shared": scores[level][shared],
                    "at_own": scores[level][own],
                    "changed": own != shared,
                    "cost_pts": 100 * (scores[level][own] - scores[level][shared]),
                    "could_rise": bool((scores[level][scores[level].index > shared] > 0).any()),
                }
            )
    columns = [*cell, factor, "shared", "own", "at_shared", "at_own", "changed", "cost_pts"]
    return pd.DataFrame(rows, columns=[*columns, "could_rise"])
