"""Render results/<grid>/ into reports/<grid>.md, figures under reports/figures/<grid>/, and a
tidy reports/<grid>_summary.csv, from the run records alone.

The report answers what each component buys in accuracy and time: effects are paired differences
against a baseline level (the first level of each axis) with 95% confidence intervals over the
matching runs (see ablations/stats.py). Re-rendering the same records gives the same files.
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .datasets import DATASETS, DatasetError, default_data_dir  # noqa: E402
from .grids import PUBLISHED_ACCURACY  # noqa: E402
from .idx import IdxFormatError  # noqa: E402
from .records import GRID_FILE, read_records  # noqa: E402
from .stats import (effect_table, mean_ci, paired_differences, pareto_front,  # noqa: E402
                    variance_shares)

SPLIT, REPLICATE = "dataset", "seed"
POINTS = 100.0  # accuracies are reported in percentage points
PNG = {"dpi": 110, "metadata": {"Software": None}}  # no version stamp: re-renders are identical
# Other grids whose runs the report sets beside this one, when their results exist.
REFERENCE_GRIDS = ("baselines", "tutorials")


def load_frame(results_dir, grid):
    """(one row per run of the saved grid, factor names in axis order, records by run id)."""
    folder = Path(results_dir) / grid
    if not (folder / GRID_FILE).is_file():
        raise FileNotFoundError(f"no results for grid {grid!r} in {folder}")
    runs = json.loads((folder / GRID_FILE).read_text())
    records = read_records(folder, set_aside=False)  # the report reads; only runners repair
    axes = list(runs[0]["labels"]) if runs else []
    rows = []
    for run in runs:
        record = records.get(run["run_id"], {"status": "pending"})
        # the config's dataset and seed, not the axis labels of the same name ("0" for 0)
        row = {"run_id": run["run_id"], SPLIT: run["config"]["dataset"],
               REPLICATE: run["config"]["seed"],
               **{k: v for k, v in run["labels"].items() if k not in (SPLIT, REPLICATE)}}
        for key in ["status", "test_acc", "test_loss", "best_val_acc", "train_time_s",
                    "eval_time_s", "wall_time_s", "epochs_run", "epochs_to_target",
                    "seconds_to_target", "n_params", "error", "finished_at"]:
            row[key] = record.get(key)
        rows.append(row)
    df = pd.DataFrame(rows)
    for column in ["test_acc", "test_loss", "best_val_acc", "train_time_s", "eval_time_s",
                   "wall_time_s", "epochs_run", "epochs_to_target", "seconds_to_target"]:
        df[column] = pd.to_numeric(df[column], errors="coerce")
    df["s_per_epoch"] = df["train_time_s"] / df["epochs_run"]
    factors = [a for a in axes if a not in (SPLIT, REPLICATE)]
    return df, factors, records


def md_table(frame, floatfmt=".2f"):
    return frame.to_markdown(index=False, floatfmt=floatfmt) if len(frame) else "_no runs_"


def fmt_mean_std(values, scale=POINTS):
    values = np.asarray(values, float) * scale
    if len(values) == 0:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


class Report:
    def __init__(self, grid, results_dir, reports_dir):
        self.grid, self.results_dir, self.reports_dir = grid, Path(results_dir), Path(reports_dir)
        self.df, self.factors, self.records = load_frame(results_dir, grid)
        self.ok = self.df[self.df["status"] == "ok"]
        self.figures = self.reports_dir / "figures" / grid
        self.datasets = sorted(self.df[SPLIT].unique())

    def figure(self, fig, name):
        self.figures.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.figures / name, **PNG)
        plt.close(fig)
        return f"![{name}](figures/{self.grid}/{name})"

    def baseline(self, factor):
        return self.df[factor].iloc[0]  # the first level of the axis, as the grid lists it

    def configs(self, frame):
        """Mean/std test accuracy per configuration (all factors but the seed)."""
        keys = [SPLIT, *self.factors]
        return (frame.groupby(keys, sort=False)
                .agg(test_acc_mean=("test_acc", "mean"), test_acc_std=("test_acc", "std"),
                     seeds=("test_acc", "count"), train_time_s=("train_time_s", "mean"))
                .reset_index())

    # --- sections -------------------------------------------------------------------------
    def header(self):
        df, env = self.df, self._environment()
        counts = df["status"].value_counts()
        finished = pd.to_datetime(df["finished_at"].dropna())
        started = finished - pd.to_timedelta(df.loc[finished.index, "wall_time_s"], unit="s")
        versions = pd.Series({rid: r.get("code_version", "?") for rid, r in self.records.items()})
        sessions = []  # records may come from several sessions: give each its own wall span
        for version in sorted(versions.unique()):
            mine = df["run_id"].isin(versions.index[versions == version]) & df["finished_at"].notna()
            span = (finished[mine].max() - started[mine].min()).total_seconds() / 60
            sessions.append(f"{int(mine.sum())} runs at {version} in {span:.1f} min wall")
        return "\n".join([
            f"# scratchbench report: grid `{self.grid}`", "",
            f"- **Runs:** {len(df)} ({', '.join(f'{counts.get(s, 0)} {s}' for s in ['ok', 'diverged', 'error', 'pending'])})",
            f"- **Last run finished:** {finished.max() if len(finished) else 'n/a'}",
            f"- **Machine:** {env.get('cpu', '?')}, {env.get('cores', '?')} cores; Python {env.get('python', '?')}, numpy {env.get('numpy', '?')}, BLAS {'; '.join(env.get('blas', [])) or '?'}",
            f"- **Time:** {'; '.join(sessions) or 'n/a'} (first start to last finish, per code version); {df['wall_time_s'].sum() / 60:.1f} min of worker time (sum over runs)",
            f"- **Factors:** {', '.join(f'{f} ({df[f].nunique()} levels, baseline `{self.baseline(f)}`)' for f in self.factors) or 'none'}; "
            f"datasets: {', '.join(self.datasets)}; seeds: {df[REPLICATE].nunique()}",
        ])

    def _environment(self):
        for record in self.records.values():
            if "environment" in record:
                return record["environment"]
        return {}

    def summary(self):
        lines = ["## Summary", ""]
        if self.ok.empty:
            return "\n".join(lines + ["_no finished runs yet_"])
        configs = self.configs(self.ok)
        rows = []
        for dataset, group in configs.groupby(SPLIT):
            best = group.sort_values("test_acc_mean", ascending=False).iloc[0]
            accs = self.ok[(self.ok[SPLIT] == dataset) &
                           (self.ok[self.factors] == best[self.factors]).all(axis=1)]["test_acc"]
            rows.append([dataset, *best[self.factors], fmt_mean_std(accs), int(best["seeds"]),
                         best["train_time_s"]])
        lines += ["Best configuration per dataset (test accuracy in %, mean ± std over seeds):", "",
                  md_table(pd.DataFrame(rows, columns=[SPLIT, *self.factors, "test acc %", "seeds",
                                                       "train s"])), "", "Findings:", ""]
        lines += [f"- {finding}" for finding in self.findings()]
        return "\n".join(lines)

    def findings(self):
        """Statements computed from the data: effects of each factor's best level, the factor
        that explains most variance, and the fastest level to the target."""
        found = []
        match_all = [SPLIT, REPLICATE, *self.factors]
        for factor in self.factors:
            base = self.baseline(factor)
            means = self.ok.groupby(factor)["test_acc"].mean()
            if len(means) < 2:
                continue
            best = means.idxmax()
            other = means.drop(base).idxmax() if best == base else best  # compared with base
            diffs = self._diffs(factor, other, base, match_all)
            if not len(diffs):
                found.append(f"**{factor}:** no runs pair `{other}` with the baseline `{base}` "
                             f"(they differ in other settings too), so no effect is estimated.")
            elif best == base:
                found.append(f"**{factor}:** the baseline `{base}` is best on average, "
                             f"{self._ci_text(-diffs)} points above the next best, `{other}`.")
            else:
                found.append(f"**{factor}:** `{best}` beats `{base}` by {self._ci_text(diffs)} "
                             f"points of test accuracy on average over all other settings.")
        shares = {}
        for dataset in self.datasets:
            subset = self.ok[self.ok[SPLIT] == dataset]
            for key, share in variance_shares(subset, self.factors, "test_acc").items():
                shares.setdefault(key, []).append(share)
        if shares:
            top = max(shares, key=lambda k: np.mean(shares[k]))
            found.append(f"**{top}** explains the largest share of test-accuracy variance: "
                         f"{100 * np.mean(shares[top]):.0f}% on average over datasets.")
        if self.factors:
            factor = self.factors[0]
            reach = self.ok.groupby(factor)["epochs_to_target"].median().dropna()
            if len(reach):
                fast = reach.idxmin()
                found.append(f"Fastest to the validation target by `{factor}`: `{fast}`, median "
                             f"{reach[fast]:.0f} epochs of the runs that reach it.")
        return found

    def _diffs(self, factor, level, base, match):
        return paired_differences(self.ok, factor, level, base, "test_acc",
                                  [m for m in match if m != factor])

    @staticmethod
    def _ci_text(diffs):
        mean, half, n = mean_ci(diffs * POINTS)
        return f"{mean:+.2f} ± {half:.2f} (95% CI, {n} pairs)"

    def effects(self):
        lines = ["## With and without each component", "",
                 "Each level against the baseline level of its factor, on paired runs (same "
                 "dataset, seed and every other factor). Accuracy in points of test accuracy; "
                 "time in seconds of training per epoch. ± is the 95% t-interval half-width.", ""]
        for dataset in self.datasets:
            subset = self.ok[self.ok[SPLIT] == dataset]
            lines += [f"### {dataset}", ""]
            for factor in self.factors:
                match = [REPLICATE, *[f for f in self.factors if f != factor]]
                acc = effect_table(subset, factor, self.baseline(factor), "test_acc", match, POINTS)
                time_ = effect_table(subset, factor, self.baseline(factor), "s_per_epoch", match)
                acc.columns = [factor, "test acc %", "Δ acc (points)", "pairs"]
                time_.columns = [factor, "s/epoch", "Δ s/epoch", "pairs"]
                table = acc.merge(time_.drop(columns="pairs"), on=factor)
                lines += [f"**{factor}**", "", md_table(table, ".3f"), ""]
        return "\n".join(lines)

    def interactions(self):
        if len(self.factors) < 2 or self.ok.empty:
            return ""
        rows_f, cols_f = self.factors[0], self.factors[1]
        panel_f = self.factors[2] if len(self.factors) > 2 else None
        lines = ["## Interactions", "",
                 f"Mean test accuracy (%) of {rows_f} x {cols_f}"
                 + (f", one panel per {panel_f}." if panel_f else "."), ""]
        for dataset in self.datasets:
            subset = self.ok[self.ok[SPLIT] == dataset]
            panels = list(dict.fromkeys(self.df[panel_f])) if panel_f else [None]
            fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4),
                                     squeeze=False)
            for ax, panel in zip(axes[0], panels):
                part = subset if panel is None else subset[subset[panel_f] == panel]
                table = (part.groupby([rows_f, cols_f])["test_acc"].mean().unstack() * POINTS)
                table = table.reindex(index=list(dict.fromkeys(self.df[rows_f])),
                                      columns=list(dict.fromkeys(self.df[cols_f])))
                values = table.to_numpy(float)
                # white text on the dark half of the colour map (a panel may be all empty)
                middle = np.nanmean(values) if np.isfinite(values).any() else 0.0
                image = ax.imshow(values, cmap="viridis", aspect="auto")
                ax.set_xticks(range(table.shape[1]), table.columns, rotation=45, ha="right")
                ax.set_yticks(range(table.shape[0]), table.index)
                for (i, j), v in np.ndenumerate(values):
                    if np.isfinite(v):
                        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7,
                                color="white" if v < middle else "black")
                ax.set_title(f"{panel}" if panel is not None else dataset, fontsize=9)
                fig.colorbar(image, ax=ax, fraction=0.046)
            fig.suptitle(dataset)
            fig.tight_layout()
            lines += [self.figure(fig, f"interactions_{dataset}.png"), ""]
        return "\n".join(lines)

    def curves(self):
        if self.ok.empty:
            return ""
        lines = ["## Learning curves", "",
                 "Validation accuracy per epoch: for each level, the mean over all other settings "
                 "per seed, then the mean and a ±1 std band over seeds.", ""]
        for dataset in self.datasets:
            subset = self.ok[self.ok[SPLIT] == dataset]
            fig, axes = plt.subplots(1, max(1, min(2, len(self.factors))), figsize=(10, 3.6),
                                     squeeze=False)
            for ax, factor in zip(axes[0], self.factors[:2]):
                for level in dict.fromkeys(self.df[factor]):
                    per_seed = []
                    for _, group in subset[subset[factor] == level].groupby(REPLICATE):
                        curves = [self.records[r]["history"]["val_acc"] for r in group["run_id"]]
                        per_seed.append(_nanmean_ragged(curves))
                    if not per_seed:
                        continue
                    stacked = _stack_ragged(per_seed) * POINTS
                    mean, std = np.nanmean(stacked, axis=0), np.nanstd(stacked, axis=0)
                    epochs = np.arange(1, len(mean) + 1)
                    ax.plot(epochs, mean, label=str(level))
                    ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
                ax.set_xlabel("epoch")
                ax.set_ylabel("val acc %")
                ax.set_title(f"{dataset}: by {factor}", fontsize=9)
                ax.legend(fontsize=7)
                lo = np.nanpercentile(subset["best_val_acc"] * POINTS, 10)
                ax.set_ylim(max(0.0, lo - 5), 100)
            fig.tight_layout()
            lines += [self.figure(fig, f"curves_{dataset}.png"), ""]
        return "\n".join(lines)

    def cost(self):
        if self.ok.empty:
            return ""
        lines = ["## Cost", "",
                 "Each point is one configuration (mean over seeds): test accuracy against "
                 "training time; the Pareto front (nothing both faster and more accurate) is "
                 "outlined.", ""]
        configs = self.configs(self.ok)
        for dataset in self.datasets:
            part = configs[configs[SPLIT] == dataset]
            front = pareto_front(part["train_time_s"], part["test_acc_mean"])
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.scatter(part["train_time_s"], part["test_acc_mean"] * POINTS, s=12, alpha=0.6)
            ordered = part[front].sort_values("train_time_s")
            ax.plot(ordered["train_time_s"], ordered["test_acc_mean"] * POINTS, "r-o", ms=4,
                    label="Pareto front")
            ax.set_xlabel("train time per run (s)")
            ax.set_ylabel("test acc %")
            lo = np.nanpercentile(part["test_acc_mean"] * POINTS, 10)
            ax.set_ylim(max(0.0, lo - 2), 100)
            ax.set_title(dataset)
            ax.legend()
            fig.tight_layout()
            lines += [self.figure(fig, f"cost_{dataset}.png"), "",
                      f"Pareto front on {dataset}:", "",
                      md_table(ordered[[*self.factors, "test_acc_mean", "train_time_s"]]
                               .assign(test_acc_mean=lambda d: d["test_acc_mean"] * POINTS)
                               .rename(columns={"test_acc_mean": "test acc %",
                                                "train_time_s": "train s"})), ""]
        lines += ["### Time to target", "",
                  "Epochs and training seconds until validation accuracy first reaches the "
                  "dataset's target (" + ", ".join(
                      f"{d} {100 * DATASETS[d].target_val_acc:.0f}%" for d in self.datasets) +
                  "); medians over the runs that reach it.", ""]
        for factor in self.factors:
            rows = []
            for (dataset, level), group in self.ok.groupby([SPLIT, factor], sort=False):
                reached = group["epochs_to_target"].notna()
                rows.append([dataset, level, f"{reached.mean() * 100:.0f}%",
                             group.loc[reached, "epochs_to_target"].median(),
                             group.loc[reached, "seconds_to_target"].median(),
                             group["s_per_epoch"].mean()])
            lines += [f"**{factor}**", "", md_table(pd.DataFrame(
                rows, columns=[SPLIT, factor, "runs reaching", "median epochs", "median s",
                               "s/epoch"])), ""]
        return "\n".join(lines)

    def importance(self):
        if self.ok.empty or not self.factors:
            return ""
        table = {}
        for dataset in self.datasets:
            shares = variance_shares(self.ok[self.ok[SPLIT] == dataset], self.factors, "test_acc")
            table[dataset] = {k: 100 * v for k, v in shares.items()}
        frame = pd.DataFrame(table)
        frame.loc["residual (higher order, seeds)"] = 100 - frame.sum()
        frame = frame.reset_index().rename(columns={"index": "source"})
        return "\n".join(["## Factor importance", "",
                          "Share (%) of the variance of test accuracy explained by each factor "
                          "and each pair of factors (sums of squares of the cell means).", "",
                          md_table(frame, ".1f")])

    def references(self):
        lines = ["## Baselines", ""]
        found = False
        for grid in REFERENCE_GRIDS:
            try:
                df, factors, _ = load_frame(self.results_dir, grid)
            except FileNotFoundError:
                continue
            found = True
            ok = df[df["status"] == "ok"]
            keys = [SPLIT, *factors]
            rows = []
            for key, group in ok.groupby(keys, sort=False):
                key = key if isinstance(key, tuple) else (key,)
                published = PUBLISHED_ACCURACY.get(key[-1])
                rows.append([*key, fmt_mean_std(group["test_acc"]), len(group),
                             f"{100 * published:.1f}" if published else "",
                             group["s_per_epoch"].mean()])
            lines += [f"Grid `{grid}` (same splits, measured by the same harness):", "",
                      md_table(pd.DataFrame(rows, columns=[*keys, "test acc %", "seeds",
                                                           "published %", "s/epoch"])), ""]
        if not found:
            lines.append(f"_no results for {', '.join(REFERENCE_GRIDS)}: run "
                         f"`python run_all.py --grid baselines --grid tutorials`_")
        return "\n".join(lines)

    def best_model(self):
        if self.ok.empty:
            return ""
        lines = ["## The best model", ""]
        for dataset in self.datasets:
            part = self.ok[self.ok[SPLIT] == dataset]
            configs = self.configs(part)
            best = configs.sort_values("test_acc_mean", ascending=False).iloc[0]
            runs = part[(part[self.factors] == best[self.factors]).all(axis=1)]
            run = runs.sort_values("test_acc", ascending=False).iloc[0]
            record = self.records[run["run_id"]]
            confusion = np.array(record["test_confusion"])
            per_class = np.diag(confusion) / confusion.sum(axis=1)
            lines += [f"### {dataset}: {' / '.join(map(str, best[self.factors]))}, seed "
                      f"{run[REPLICATE]} (test acc {100 * run['test_acc']:.2f}%)", "",
                      "Confusion matrix (rows: true class, columns: predicted):", "",
                      md_table(pd.DataFrame(confusion, columns=[str(i) for i in range(len(confusion))])
                               .assign(**{"per-class acc %": per_class * POINTS})
                               .rename_axis("true").reset_index(), ".1f"), ""]
            lines += [self._misclassified_figure(dataset, record), ""]
        return "\n".join(lines)

    def _misclassified_figure(self, dataset, record):
        wrong = record.get("test_misclassified", [])
        if not wrong:
            return "_no misclassified test images recorded_"
        try:
            raw = DATASETS[dataset].load_raw(default_data_dir())
        except (DatasetError, IdxFormatError) as err:
            return f"_misclassified images not drawn: {err}_"
        shape = DATASETS[dataset].image_shape
        fig, axes = plt.subplots(2, 8, figsize=(10, 3))
        for ax in axes.ravel():
            ax.axis("off")
        for ax, (index, true, predicted) in zip(axes.ravel(), wrong):
            ax.imshow(np.asarray(raw["test_images"][index]).reshape(shape), cmap="gray_r")
            ax.set_title(f"#{index}: {true}→{predicted}", fontsize=8)
        fig.suptitle(f"{dataset}: first misclassified test images (true→predicted)")
        fig.tight_layout()
        return self.figure(fig, f"misclassified_{dataset}.png")

    def failures(self):
        bad = self.df[self.df["status"].isin(["diverged", "error"])]
        lines = ["## Failures", ""]
        if bad.empty:
            return "\n".join(lines + ["_none: every finished run ended with finite loss_"])
        bad = bad.assign(reason=[
            e if isinstance(e, str) else f"non-finite loss after {int(n or 0)} full epochs"
            for e, n in zip(bad["error"], bad["epochs_run"])])
        return "\n".join(lines + [md_table(bad[[SPLIT, *self.factors, REPLICATE, "status",
                                                "reason"]])])

    def all_runs(self, csv_name):
        return "\n".join(["## All runs", "",
                          f"Every run, one row each: [{csv_name}]({csv_name})."])

    def render(self):
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        csv_name = f"{self.grid}_summary.csv"
        self.df.drop(columns=["finished_at"]).to_csv(self.reports_dir / csv_name, index=False)
        sections = [self.header(), self.summary(), self.effects(), self.interactions(),
                    self.curves(), self.cost(), self.importance(), self.references(),
                    self.best_model(), self.failures(), self.all_runs(csv_name)]
        path = self.reports_dir / f"{self.grid}.md"
        path.write_text("\n\n".join(s for s in sections if s) + "\n")
        return path


def _stack_ragged(curves):
    """Curves of different lengths -> (n, max_len) array padded with nan."""
    width = max(len(c) for c in curves)
    out = np.full((len(curves), width), np.nan)
    for i, c in enumerate(curves):
        out[i, :len(c)] = c
    return out


def _nanmean_ragged(curves):
    return np.nanmean(_stack_ragged(curves), axis=0)


def render_report(grid, results_dir, reports_dir):
    """Write the report of `grid` and return its path."""
    return Report(grid, results_dir, reports_dir).render()
