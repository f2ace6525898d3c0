"""The sections of a fair-comparison protocol (issue 12): tuning diagnostics of a tuned grid, the
unregularized baseline's generalization gap, the seed variance by stream, the shared lr, an
external time-to-target anchor, and a study's measured wall time for the header. Which other
grids they read is what the grid's study declared (`data.needs`, needs.py). Numbers come from
ablations.analysis.diagnostics and ablations.analysis.stats, figures from plots.py; each section
returns Section("") where its grid does not hold what it needs or was not declared.
"""

import numpy as np
import pandas as pd

from ablations.grid.expand import describe
from .. import diagnostics
from ..stats.aggregates import binomial_se, std_ci
from ..stats.bootstrap import bootstrap_weights
from . import plots
from .columns import POINTS, REGIME, SPLIT, STREAM_AXES
from .frame import grids_with_results
from .text import Section, figure_link, interval, md_table, number

VARIED = STREAM_AXES[0]  # which seed stream the variance grid varies ("all": every one)
INCLUSION_TEXT = (
    "Tuned optimizers should respect the inclusion hierarchy sgd ⊆ momentum ⊆ adam (Choi et "
    "al. 2019): each can imitate the one before it, so with its lr tuned it should do no worse. "
    "Per cell, the difference of mean test accuracy (upper - lower, points) over the final "
    "seeds; flagged as violated when it is below -2 x the larger of its seed SE and the "
    "test-set binomial SE."
)


def cells_first(data, frame):
    """`frame` with its dataset and factor columns first, in the report's order."""
    first = [c for c in (SPLIT, *data.factors) if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def tuned_rows(data):
    """The rows of data.df in a tuned regime (every row of a tuned grid without regimes)."""
    regimes = {c["cell"][REGIME] for c in data.tuning["cells"] if REGIME in c["cell"]}
    return data.df[data.df[REGIME].isin(regimes)] if regimes else data.df


def sensitivity_figures(data, trials):
    """{file name: figure} of the lr sensitivity curves, one figure per dataset: a panel per
    optimizer (and tuned regime, where there are several), final validation accuracy (mean over
    tuning seeds) against lr, a line per activation."""
    if "lr" not in trials.columns or "optimizer" not in trials.columns:
        return {}
    curves = diagnostics.lr_sensitivity(trials.dropna(subset=["lr"]))
    regimes = list(dict.fromkeys(curves[REGIME])) if REGIME in curves else [None]
    figures = {}
    for dataset, part in curves.groupby(SPLIT, sort=False):
        panels = []
        for regime in regimes:
            in_regime = part if regime is None else part[part[REGIME] == regime]
            for optimizer in [
                o for o in data.levels("optimizer") if o in set(in_regime["optimizer"])
            ]:
                rows = in_regime[in_regime["optimizer"] == optimizer]
                by = (
                    rows.groupby("activation", sort=False) if "activation" in rows else [("", rows)]
                )
                name = optimizer if len(regimes) == 1 else f"{optimizer} ({regime})"
                panels.append(
                    (
                        name,
                        [
                            (activation, line["lr"], POINTS * line["final_val_acc"])
                            for activation, line in by
                        ],
                    )
                )
        figures[f"lr_sensitivity_{dataset}.png"] = plots.sensitivity_figure(
            f"{dataset}: final validation accuracy of each lr candidate (tuning runs)",
            panels,
            "lr",
            "val acc %",
        )
    return figures


def selection_table(tuning):
    """One row per tuned cell: its labels, the candidates, the selection and its figure."""
    rows = []
    for cell in tuning["cells"]:
        trials = cell["rungs"][0]["trials"]
        rows.append(
            {
                **cell["cell"],
                "candidates": len(trials),
                "diverged trials": sum(
                    t["diverged"] or 0 for r in cell["rungs"] for t in r["trials"]
                ),
                "selected": "pending"
                if cell["selected"] is None
                else describe(cell["selected"]) or "(nothing to tune)",
                "val acc %": POINTS * cell["selected_val"]
                if cell["selected_val"] is not None
                else np.nan,
            }
        )
    return pd.DataFrame(rows)


def tuning(data):
    if data.tuning is None:
        return Section("")
    trials = diagnostics.trials_frame(data.tuning, data.records)
    if SPLIT not in trials.columns:  # a grid on one dataset, fixed by the block's base
        trials = trials.assign(**{SPLIT: data.datasets[0]})
    rules = "; ".join(f"`{k}`: {v}" for k, v in data.tuning["rules"].items())
    seeds = sorted({seed for cell in data.tuning["cells"] for seed in cell["seeds"]})
    lines = [
        "## Tuning",
        "",
        f"{len(data.tuning['tuning_run_ids'])} tuning runs (seeds "
        f"{', '.join(map(str, seeds))}) chose each cell's nuisance settings on the validation split only ({rules}); "
        "the winner was then trained on the final seeds. Axes not listed in a cell share "
        "its selection.",
        "",
    ]
    figures = sensitivity_figures(data, trials)
    if figures:
        lines += [
            "### Learning-rate sensitivity",
            "",
            "Final validation accuracy of every lr candidate "
            + (
                "trained (a hill climb's cells: the candidates it visited; "
                if any("search" in cell for cell in data.tuning["cells"])
                else "("
            )
            + "mean over the tuning seeds; a gap where every trial diverged), a panel per "
            "optimizer, a line per activation.",
            "",
        ]
        lines += [line for name in figures for line in (figure_link(data, name), "")]
    flags = diagnostics.boundary_flags(data.tuning)
    edge = flags[flags["at_edge"]] if len(flags) else flags
    lines += [
        "### Selections at the edge of their search range",
        "",
        f"{len(edge)} of {len(flags)} tuned settings selected the smallest or largest "
        "candidate, or the largest whose runs did not diverge (`finite high`: every larger "
        "candidate diverged)"
        + (
            ": the best value may lie outside the range searched, or between the selection "
            "and the next candidate."
            if len(edge)
            else ": none sits at an end of its search range or of its finite part."
        ),
        "",
    ]
    if len(edge):
        lines += [md_table(cells_first(data, edge.drop(columns=["at_edge"])), ".4g"), ""]
    if "optimizer" in trials.columns and len(trials):
        share = diagnostics.diverged_share(trials).assign(share=lambda d: POINTS * d["share"])
        lines += [
            "### Diverged tuning trials",
            "",
            md_table(
                share.rename(
                    columns={"n_trials": "trials", "n_diverged": "diverged", "share": "share %"}
                ),
                ".1f",
            ),
            "",
        ]
    lines += inclusion_lines(data)
    lines += [
        "### What each cell selected",
        "",
        md_table(cells_first(data, selection_table(data.tuning))),
        "",
    ]
    return Section("\n".join(lines), figures)


def inclusion_lines(data):
    """Markdown lines of the inclusion check on the tuned final runs ([] without them)."""
    if "optimizer" not in data.factors:
        return []
    check = diagnostics.inclusion_check(tuned_rows(data))
    if not len(check):
        return []
    violated = check[check["violated"]]
    lines = [
        "### Inclusion check",
        "",
        INCLUSION_TEXT,
        "",
        f"**{len(violated)} of {len(check)} pairs violate it**"
        if len(violated)
        else f"None of the {len(check)} pairs violates it.",
        "",
    ]
    if len(violated):
        lines += [
            md_table(
                violated.drop(columns=["violated"]).rename(
                    columns={
                        "diff_pts": "Δ (upper - lower)",
                        "se_seeds_pts": "seed SE",
                        "se_test_pts": "test-set SE",
                    }
                )
            ),
            "",
        ]
    return lines


def gap_rows(other):
    """The generalization gap of `other` (ReportData) per regime and dataset."""
    frame = diagnostics.runs_frame(list(other.runs), other.records)
    gap = diagnostics.generalization_gap(frame, by=(REGIME, SPLIT))
    return gap.assign(grid=other.grid)


def generalization_gap(data):
    if (
        not data.needs.generalization_gap
        or data.ok.empty
        or all(data.records[r].get("train_acc") is None for r in data.ok["run_id"])
    ):
        return Section("")
    table = pd.concat(
        [
            gap_rows(other)
            for other in grids_with_results(data, data.needs.generalization_gap)
            if not other.ok.empty
        ],  # a grid still tuning has no final run yet
        ignore_index=True,
    )
    columns = ["grid", *[c for c in (REGIME, SPLIT) if c in table.columns]]
    table = table.assign(
        train=POINTS * table["train_acc"],
        val=POINTS * table["val_acc"],
        last=POINTS * table["lowest_val_loss_at_last_epoch"],
    )
    table = table[[*columns, "n", "train", "val", "gap_pts", "gap_std_pts", "last"]].rename(
        columns={
            "n": "runs",
            "train": "train acc %",
            "val": "val acc %",
            "gap_pts": "gap",
            "gap_std_pts": "gap sd",
            "last": "val loss lowest at last epoch %",
        }
    )
    return Section(
        "\n".join(
            [
                "## Generalization gap",
                "",
                "Was there anything to regularize? The unregularized baseline's accuracy on (a sample of "
                "up to 10,000) training images and its final validation accuracy, in points, mean over "
                "its runs, per grid, regime and dataset, with the share of those runs whose validation "
                "loss was lowest at their last epoch (training stopped before overfitting set in).",
                "",
                md_table(table.fillna({c: "" for c in columns})),
            ]
        )
    )


def stream_data(data):
    """The ReportData whose runs vary the seed streams: the grid's own (it has the `varied`
    axis), else the grid its report declares (`needs.seed_variance`; None without one)."""
    if VARIED in data.df.columns:
        return data
    if data.needs.seed_variance:
        return data.sibling(data.needs.seed_variance)
    return None


def seed_variance(data):
    """The seed-variance attribution of stream_data(data), drawn into data's report."""
    report, data = data, stream_data(data)
    if data is None or data.ok.empty:
        return Section("")
    spread = diagnostics.seed_variance_by_stream(data.ok, cell=(SPLIT,))
    rows, panels = [], []
    for dataset, part in spread.groupby(SPLIT, sort=False):
        runs = data.ok_on(dataset)
        estimates = [
            std_ci(
                POINTS * values,
                bootstrap_weights([()] * len(values), data.rng("spread", dataset, source)),
            )
            for source, values in zip(part["source"], part["values"])
        ]
        sd, low, high, _ = (list(column) for column in zip(*estimates))
        se = POINTS * binomial_se(runs["test_acc"].mean(), runs["n_test"].max())
        panels.append((dataset, list(part["source"]), sd, low, high, se, "test-set binomial SE"))
        for (_, r), s, lo, hi in zip(part.iterrows(), sd, low, high):
            rows.append(
                [
                    dataset,
                    r["source"],
                    int(r["n"]),
                    s,
                    interval(lo, hi, ".3f"),
                    se,
                    number(s / se, ".2f"),
                ]
            )
    name = "seed_variance.png"
    figure = plots.spread_figure(
        "sd of test accuracy by seed source (95% CI)", panels, "sd of test acc (points)"
    )
    return Section(
        "\n".join(
            [
                "## Seed variance by source",
                "",
                *(
                    []
                    if report is data
                    else [
                        f"From the `{data.grid}` grid ({len(data.ok)} runs of one "
                        f"cell per dataset, reports/{data.grid}.md). "
                    ]
                ),
                "Each source of randomness varied alone (the other streams at 0; the run with every "
                "stream at 0 included), and every stream together (`all`): the standard deviation of "
                "test accuracy over the runs, in points, with a 95% BCa bootstrap CI (runs resampled), "
                "beside the binomial SE of an accuracy measured on the fixed test set, "
                "sqrt(p (1 - p) / n_test) at the dataset's mean accuracy. A source whose sd is near "
                "that SE moves the result no more than the test sample does.",
                "",
                md_table(
                    pd.DataFrame(
                        rows,
                        columns=[SPLIT, "source", "runs", "sd", "95% CI", "test-set SE", "sd / SE"],
                    ),
                    ".3f",
                ),
                "",
                figure_link(report, name),
            ]
        ),
        {name: figure},
    )


def lr_sharing_data(data):
    """The ReportData of the runs that measure the shared lr: those of the grid the report
    declares (`needs.lr_sharing`, this one for its own name; None without results), else None."""
    return data.sibling(data.needs.lr_sharing) if data.needs.lr_sharing else None


def shared_lr_check(data):
    """diagnostics.lr_by_regularizer on the lr-sharing grid's runs beside `data` (one row per
    dataset, optimizer, activation and regularizer: the lr selected without a regularizer and
    the regularizer's own best, final validation accuracy at each, the cost in points), or None
    where those runs are not at hand. For a sentence beside a regularizer's verdict; computed
    once per report."""
    if "shared_lr_check" not in data.memo:
        other = lr_sharing_data(data)
        if other is None or other.ok.empty:
            data.memo["shared_lr_check"] = None
        else:
            frame = diagnostics.runs_frame(list(other.runs), other.records)
            data.memo["shared_lr_check"] = diagnostics.lr_by_regularizer(frame).assign(
                n_val=lambda d: d[SPLIT].map(other.df.groupby(SPLIT)["n_val"].max())
            )
    return data.memo["shared_lr_check"]


def shared_lr_sentence(check):
    """What `check` (shared_lr_check) found, in one sentence."""
    changed = check[check["changed"]]
    n, k = len(check), len(changed)
    head = (
        f"On this subset, {k} of {n} selections change when the lr is tuned for each "
        f"regularizer instead of shared from the unregularized runs"
    )
    fixed = int((~check["could_rise"]).sum())
    bound = (
        f" ({fixed} of the {n} could only move down: every larger lr diverged for that regularizer)"
        if fixed
        else ""
    )
    head += bound
    if not k:
        return head + (
            ": each regularizer's best lr is the shared one, so sharing it cost nothing on this "
            "subset."
        )
    se = POINTS * np.sqrt(changed["at_own"] * (1 - changed["at_own"]) / changed["n_val"])
    where = ", ".join(
        f"{r[SPLIT]} {r['optimizer']} {r['regularization']} {r['cost_pts']:+.2f}"
        for _, r in changed.iterrows()
    )
    return (
        head + f"; where it changes, the shared lr costs {changed['cost_pts'].mean():.2f} "
        f"points of validation accuracy on average (own best minus shared: {where}), "
        f"against a single run's validation-set SE of {se.min():.2f}-{se.max():.2f} points."
    )


def lr_sharing(data):
    """Whether the lr tuned without a regularizer, shared by every regularizer, is the one each
    regularizer would select (the lr-sharing grid's runs), in data's report."""
    check = shared_lr_check(data)
    if check is None or not len(check):
        return Section("")
    other = lr_sharing_data(data)
    seeds = sorted({int(c["seed"]) for c in other.configs.values()})
    table = check.assign(
        at_shared=POINTS * check["at_shared"],
        at_own=POINTS * check["at_own"],
        changed=check["changed"].map({True: "yes", False: "no"}),
    )
    table = table.drop(columns=["n_val"]).rename(
        columns={
            "shared": "shared lr",
            "own": "own best lr",
            "at_shared": "val acc % at shared",
            "at_own": "val acc % at own",
            "cost_pts": "cost (points)",
        }
    )
    return Section(
        "\n".join(
            [
                "## Does the shared lr cost the regularizers?",
                "",
                *(
                    []
                    if other is data
                    else [
                        f"From the `{other.grid}` grid ({len(other.ok)} finished "
                        f"runs, reports/{other.grid}.md). "
                    ]
                ),
                "The tuned regime tunes the lr per dataset, optimizer and activation without a "
                "regularizer and gives every regularizer that lr. Here each regularizer was trained at "
                f"every lr candidate (seed {', '.join(map(str, seeds))}, the tuning seed, at the tuned "
                "regime's budget): its own best lr by final validation accuracy, as the tuner selects "
                "(a diverged run scores 0, ties go to the smaller lr), against the shared one. The cost "
                "is the validation accuracy at its own best lr minus that at the shared lr, in points.",
                "",
                f"**{shared_lr_sentence(check)}**",
                "",
                md_table(cells_first(data, table), ".4g"),
            ]
        )
    )


def anchor(data):
    """The time-to-target anchor the report declares (`needs.anchor`): median seconds and epochs
    to the validation target per optimizer, beside the workload's own budget."""
    spec = data.needs.anchor
    if spec is None or data.df.empty:
        return Section("")
    scores = diagnostics.time_to_target(data.df, budget_s=spec["budget_s"])
    lrs = data.df.groupby("optimizer", sort=False)["run_id"].agg(
        lambda ids: ", ".join(sorted({f"{data.configs[r]['lr']:g}" for r in ids}))
    )
    scores = (
        scores.assign(lr=scores["optimizer"].map(lrs))
        .set_index("optimizer")
        .reindex(lrs.index)
        .reset_index()
    )
    config = data.configs[data.df["run_id"].iloc[0]]
    targets = sorted(
        {
            r.get("target_val_acc")
            for r in data.records.values()
            if r.get("target_val_acc") is not None
        }
    )
    scores["within_budget"] = scores["within_budget"].map({True: "yes", False: "no"})
    table = scores[
        ["optimizer", "lr", "n", "misses", "median_s", "median_epochs", "within_budget"]
    ].rename(
        columns={
            "n": "seeds",
            "median_s": "median s to target",
            "median_epochs": "median epochs to target",
            "within_budget": f"within {spec['budget_s']:.0f} s",
        }
    )
    hidden = "-".join(map(str, config.get("hidden", [])))
    return Section(
        "\n".join(
            [
                f"## {spec['title']}",
                "",
                f"{spec['workload']} as run here: {config['dataset']}, hidden {hidden}, "
                f"{config.get('activation')}, batch {config.get('batch_size')}, "
                f"{config.get('epochs')} epochs, {config.get('schedule')} lr, each optimizer at its "
                f"tuned lr. Seconds and epochs until the validation accuracy first reaches "
                f"{', '.join(f'{t:g}' for t in targets) or 'the target'}, training time only (the "
                "clock pauses during evaluation); a run that misses (or diverges) counts as infinity, "
                f"and the median is over the seeds, beside AlgoPerf's "
                f"{spec['budget_s']:.0f} s budget (their hardware, not this machine).",
                "",
                md_table(table),
            ]
        )
    )


def study_runs(data, grid):
    """(records, tuning run ids) of a study grid's runs: grid.json's final runs and
    tuning.json's tuning runs that have a record."""
    other = data.sibling(grid)
    if other is None:
        return {}, set()
    tuning = set(other.tuning["tuning_run_ids"]) if other.tuning else set()
    wanted = {run["run_id"] for run in other.runs} | tuning
    return (
        {r: other.records[r] for r in wanted if r in other.records},
        tuning & set(other.records),
    )


def study_time(data):
    """The header line measuring a whole study's wall time against its budget, where the report
    declares one (`needs.wall_time`) and the grid is tuned; else []."""
    spec = data.needs.wall_time
    if spec is None or data.tuning is None:
        return []
    starts, finishes, grids, n_runs, n_tuning = [], [], [], 0, 0
    for grid in spec["grids"]:
        records, tuning_ids = study_runs(data, grid)
        if not records:
            continue
        grids.append(grid)
        n_runs += len(records)
        n_tuning += len(tuning_ids)
        for record in records.values():
            if record.get("finished_at") and record.get("wall_time_s") is not None:
                finish = pd.Timestamp(record["finished_at"])
                finishes.append(finish)
                starts.append(finish - pd.Timedelta(seconds=record["wall_time_s"]))
    spans = diagnostics.sittings(starts, finishes)
    total = spans["minutes"].sum()
    budget = spec["minutes"]
    return [
        f"- **{spec['name']} wall time:** {total:.1f} min against the {budget} min budget "
        f"({spec['why']}; {'within' if total <= budget else 'over'} it): "
        f"tuning and "
        f"final runs of {', '.join(grids)}, {n_runs} runs of which {n_tuning} tuning runs, "
        f"in {len(spans)} sitting{'s' * (len(spans) != 1)} (first start to last finish "
        f"each; pauses over {diagnostics.SITTING_GAP_S / 60:.0f} min between runs are left "
        f"out)"
    ]
