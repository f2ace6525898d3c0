"""The report's sections, in order (SECTIONS at the bottom). Each is a function
`section(data: ReportData) -> Section`: markdown plus the figures it links, by file name. A
section computes from `data` (statistics from ablations.analysis.stats), draws through plots.py and
writes nothing; render.py writes every file.
"""

import numpy as np
import pandas as pd

from ablations.data.datasets import DATASETS, DatasetError
from ablations.data.idx import IdxFormatError
from ablations.train.trainers import sklearn_arguments
from ..stats.aggregates import binomial_se, pareto_front
from ..stats.factorial import decomposition_sources
from . import plots
from .columns import POINTS, REGIME, REPLICATE, SPLIT
from .claims import claims_of
from .contrasts import ALPHA, in_family
from .facets import curves, distributions, interactions
from .findings import (
    best_table,
    change_table,
    family_text,
    findings,
    importance_groups,
    verdict_table,
)
from .frame import grids_with_results
from .protocol import anchor, generalization_gap, lr_sharing, seed_variance, study_time, tuning
from .targets import TARGET_RULE, TARGET_TIMES, target_tests, time_text
from .text import Section, figure_link, interval, md_table, mean_std, number, p_value
from .vocabulary import design_words, short

REGIMES_TEXT = (
    "Each regime is compared within itself, like a dataset: pairs never cross regimes, a factor "
    "with a single level in a regime is not contrasted there, and the baseline is the factor's "
    "first level in the regime; Holm's family is the one above, over every regime."
)


def class_names(dataset, n):
    names = getattr(DATASETS[dataset], "class_names", ()) if dataset in DATASETS else ()
    return list(names) if len(names) == n else [str(i) for i in range(n)]


SCATTER_FIRST = ("optimizer", "activation")  # the cost scatter's colour, then its marker


def scatter_factors(factors):
    """The factors that colour and mark the cost scatter, in that order: optimizer and
    activation where the grid has them, then its other factors in grid order."""
    return [
        *(f for f in SCATTER_FIRST if f in factors),
        *(f for f in factors if f not in SCATTER_FIRST),
    ]


def shared_runs_note(data):
    """'; grid.json lists N entries: k runs serve more than one regime ...' where a run is
    listed under more than one regime, else ''."""
    if len(data.unique) == len(data.df):
        return ""
    shared = int(data.df["run_id"].value_counts().gt(1).sum())
    return (
        f"; grid.json lists {len(data.df)} entries: {shared} runs serve more than one "
        f"regime (the same settings, e.g. a tuned lr equal to the default), counted once "
        f"here and in the times, and part of each regime's comparisons"
    )


def header(data):
    df, env = (
        data.unique,
        next((r["environment"] for r in data.records.values() if "environment" in r), {}),
    )
    counts = df["status"].value_counts()
    finished = pd.to_datetime(df["finished_at"].dropna())
    started = finished - pd.to_timedelta(df.loc[finished.index, "wall_time_s"], unit="s")
    sessions = []  # records may come from several sessions: give each its own wall span
    versions = df["code_version"].fillna("?")
    for version in sorted(versions[df["finished_at"].notna()].unique()):
        mine = (versions == version) & df["finished_at"].notna()
        span = (finished[mine].max() - started[mine].min()).total_seconds() / 60
        mark = " (**uncommitted tree**)" if version.endswith("+dirty") else ""
        sessions.append(f"{int(mine.sum())} runs at {version}{mark} in {span:.1f} min wall")
    dirty = int(versions.str.endswith("+dirty").sum())
    factors = (
        ", ".join(
            f"{f} ({len(data.levels(f))} level{'s' * (len(data.levels(f)) != 1)}, "
            f"baseline `{data.baseline(f)}`)"
            for f in data.factors
        )
        or "none"
    )
    lines = [
        "## Runs",
        "",
        f"- **Runs:** {len(df)} ({', '.join(f'{counts.get(s, 0)} {s}' for s in ['ok', 'diverged', 'error', 'pending'])}{shared_runs_note(data)})",
        f"- **Last run finished:** {finished.max() if len(finished) else 'n/a'}",
        f"- **Machine:** {env.get('cpu', '?')}, {env.get('cores', '?')} cores; Python {env.get('python', '?')}, numpy {env.get('numpy', '?')}, BLAS {'; '.join(env.get('blas', [])) or '?'}",
        f"- **Time:** {'; '.join(sessions) or 'n/a'} (first start to last finish, per code version); {df['wall_time_s'].sum() / 60:.1f} min of worker time (sum over runs)",
        f"- **Factors:** {factors}; datasets: {', '.join(data.datasets)}; seeds: {df[REPLICATE].nunique()}",
        *study_time(data),
    ]
    if dirty:
        lines.append(
            f"- **Uncommitted code:** {dirty} of {len(df)} records were trained from a "
            f"tree with uncommitted changes (`+dirty`), so they cannot be tied to a "
            f"commit."
        )
    return Section("\n".join(lines))


def summary(data):
    lines = ["## Summary", ""]
    if data.ok.empty:
        return Section("\n".join(lines + ["_no finished runs yet_"]))
    rows, notes = [], []
    for dataset, (best, _) in data.choices.items():
        runs = data.runs_of(data.ok_on(dataset), best)  # on the largest validation set
        left_out = data.left_out_of_choice(dataset)
        if left_out:
            counts = ", ".join(f"{k} on {n:,}" for n, k in left_out.items())
            notes.append(
                f"On {dataset}, the configurations validated on fewer images than "
                f"{int(runs['n_val'].max()):,} ({counts}) took no part in the choice: "
                f"accuracies on different validation sets do not compare."
            )
        se = POINTS * binomial_se(best["test_acc_mean"], runs["n_test"].max())
        rows.append(
            [
                dataset,
                *best[list(data.factors)],
                number(POINTS * best["val_acc_mean"], ".2f"),
                mean_std(runs["test_acc"]),
                number(se, ".2f"),
                int(best["seeds"]),
                best["train_time_s"],
            ]
        )
    lines += [
        "Best configuration per dataset over every regime, chosen by mean final validation "
        "accuracy (the test set plays no part in this choice, which is among the grid's "
        "configurations; how the grid's own budgets were chosen is its study's record; test "
        "accuracy in %, mean ± sd "
        "over seeds; test-set SE = sqrt(p (1 - p) / n_test), the sampling error of the fixed "
        "test set):",
        "",
        md_table(
            pd.DataFrame(
                rows,
                columns=[
                    SPLIT,
                    *data.factors,
                    "val acc %",
                    "test acc %",
                    "test-set SE",
                    "seeds",
                    "train s",
                ],
            )
        ),
        "",
    ]
    best = claims_of(data).of("best")
    lines += [
        *notes,
        "" if notes else None,
        "Within each regime (a regime is a budget: its own epochs and tuning), the best "
        "configuration on validation and its lead over the runner-up, paired over seeds; a "
        "lead whose interval holds 0 is a tie, with every configuration within seed noise of "
        "it:",
        "",
        *[f"- {sentence}" for sentence in best["sentence"]],
        "",
        "Findings, each with the test behind it:",
        "",
    ]
    lines += [f"- {finding}" for finding in findings(data)]
    return Section("\n".join(line for line in lines if line is not None))


EFFECTS_TEXT = (
    "Each level against the baseline level of its factor, on paired runs (same dataset, seed "
    "and every other factor), in points of test accuracy. A *cell* is one setting of the other "
    "factors; each contrast answers two questions, each with one model. **Δ**: the equal-weight "
    "mean over the cells of each cell's mean paired difference (level - baseline), † where it "
    "is smaller than the test-set SE at the dataset's mean accuracy. **Over these settings** "
    "(the cells are the target; only seed noise is random): **95% CI** and **p** are the t of "
    "the fixed-cells model with each cell's own variance, SE^2 = sum_c s_c^2 / n_c / K^2 on "
    "Welch-Satterthwaite degrees of freedom (a cell whose runs are the same records in two "
    "regimes has variance 0 and adds none). **Across settings** (would it hold for other "
    "levels of the other factors?): the cells form a crossed table of those factors' levels, "
    "so the replication is their levels, not the cells: the interval and p are the t of the "
    "random-effects model, the variance of the mean from the ANOVA mean squares (for two "
    "factors (MS_A + MS_B - MS_AB) / ab, Satterthwaite degrees of freedom; Montgomery ch. 13). "
    "Each test has a distribution-free companion (a sign-flip test), Holm-adjusted over the same "
    "family; a verdict only the normal-theory test supports says so. **Cells won**: cells whose "
    "own t-test (Holm over the contrast's cells) puts them above 0, and below 0 after the "
    "slash. **Het. p**: the level x cell interaction (one-way ANOVA F of the cell means against "
    "the within-cell noise): small where the effect differs from cell to cell. **Holm p**: of "
    "the claim's test (see the verdicts). **MDE**: the true effect the claim's test detects "
    "with 80% power at Holm's first threshold. **Δ s/epoch**: paired difference in training "
    "seconds per epoch, ± 95% t-interval over the pairs."
)


def effects(data):
    if not data.factors:
        return Section("")
    family = data.contrasts
    contrasts, changes = (family[family["kind"] == kind] for kind in ("contrast", "change"))
    files = {}
    if len(family):
        files[f"{data.grid}_cells.md"] = cells_page(data)
        files[f"{data.grid}_contrasts.csv"] = contrast_csv(claims_of(data), contrasts)
    if len(changes):
        files[f"{data.grid}_regime_changes.csv"] = contrast_csv(claims_of(data), changes)
    links = ", ".join(f"[{name}]({name})" for name in files)
    lines = [
        "## With and without each component",
        "",
        EFFECTS_TEXT,
        "",
        family_text(family),
        "",
        *(
            [
                f"Every cell of every contrast, and this section's numbers one row per "
                f"contrast: {links}.",
                "",
            ]
            if files
            else []
        ),
    ]
    if data.regimes != [None]:
        lines += [REGIMES_TEXT, ""]
    for dataset in data.datasets:
        subset = data.ok_on(dataset)
        se = POINTS * binomial_se(subset["test_acc"].mean(), subset["n_test"].max())
        lines += [f"### {dataset}", ""]
        for regime in data.regimes:
            if regime is not None:
                lines += [f"#### {dataset}, regime `{regime}`", ""]
            lines += effect_tables(data, data.in_regime(subset, regime), dataset, regime, se)
        lines += [f"Test-set SE on {dataset}: {number(se, '.2f')} points.", ""]
    return Section("\n".join(lines), files=files)


EFFECT_COLUMNS = [
    "test acc %",
    "Δ",
    "95% CI",
    "p",
    "across 95% CI",
    "across p",
    "cells won",
    "het. p",
    "Holm p",
    "MDE",
    "verdict",
    "pairs",
    "Δ s/epoch",
]


def effect_tables(data, subset, dataset, regime, se):
    """Markdown lines: one effect table per factor contrasted on `subset` (one dataset and
    regime), `se` the test-set SE that marks an effect as small."""
    lines = []
    for factor in data.contrasted(regime):
        base = data.levels_in(factor, regime)[0]
        rows = [
            [
                base,
                number(POINTS * subset.loc[subset[factor] == base, "test_acc"].mean(), ".2f"),
                "baseline",
                *[""] * (len(EFFECT_COLUMNS) - 2),
            ]
        ]
        claims = claims_of(data)
        for _, r in in_family(data.contrasts, dataset, regime, factor).iterrows():
            claim = claims.of_row(r)
            small = "†" if claim["below_test_se"] else ""
            rows.append(
                [
                    r["level"],
                    number(
                        POINTS * subset.loc[subset[factor] == r["level"], "test_acc"].mean(), ".2f"
                    ),
                    number(r["delta"]) + small,
                    interval(r["ci_low"], r["ci_high"]),
                    p_value(r["p"]),
                    interval(r["across_ci_low"], r["across_ci_high"]),
                    p_value(r["across_p"]),
                    f"{r['cells_won']}/{r['cells_lost']} of {r['cells']}",
                    p_value(r["heterogeneity_p"]),
                    p_value(claim["holm_p"]),
                    number(claim["mde"], ".2f"),
                    short(claim),
                    str(int(r["pairs"])),
                    f"{number(r['time_mean'])} ± {number(r['time_half'], '.2f')}",
                ]
            )
        table = pd.DataFrame(rows, columns=[factor, *EFFECT_COLUMNS])
        notes = claims.of("caveat", dataset=dataset, regime=regime, factor=factor)["sentence"]
        lines += [f"**{factor}**", "", md_table(table), ""] + [
            line for note in notes for line in (note, "")
        ]
    return lines


# The contrast CSVs' columns beside the claim's own: (column, the family field it holds).
CSV_COLUMNS = {
    "cells": "cells",
    "pairs": "pairs",
    "fixed_cells_se": "se",
    "fixed_cells_df": "df",
    "fixed_cells_ci_low": "ci_low",
    "fixed_cells_ci_high": "ci_high",
    "fixed_cells_p": "p",
    "fixed_cells_holm_p": "p_holm",
    "fixed_cells_signflip_holm_p": "signflip_holm",
    "fixed_cells_model": "model",
    "across_se": "across_se",
    "across_df": "across_df",
    "across_ci_low": "across_ci_low",
    "across_ci_high": "across_ci_high",
    "across_p": "across_p",
    "across_holm_p": "across_p_holm",
    "across_signflip_holm_p": "across_signflip_holm",
    "across_model": "across_model",
    "heterogeneity_p": "heterogeneity_p",
    "cells_won_holm": "cells_won",
    "cells_lost_holm": "cells_lost",
    "fixed_cells_mde": "mde",
    "across_mde": "across_mde",
    "family_size": "family_size",
    "holm_first_threshold": "threshold",
    "s_per_epoch_diff_mean": "time_mean",
    "s_per_epoch_diff_ci_half": "time_half",
}
CLAIM_FIELDS_IN_CSV = ["id", "dataset", "regime", "from_regime", "factor", "level", "baseline"]
CLAIM_FIELDS_IN_CSV += ["verdict", "question", "estimate", "ci_low", "ci_high", "holm_p", "mde"]


def contrast_csv(claims, rows):
    """The contrast-family rows `rows` as CSV text: each row's claim fields (its id, verdict,
    the estimate and interval of the question it answers, Holm p) then both questions' numbers
    under names that say which (CSV_COLUMNS). A change's `regime` is the later regime."""
    claim_rows = [claims.of_row(r) for _, r in rows.iterrows()]
    table = pd.DataFrame([c[CLAIM_FIELDS_IN_CSV] for c in claim_rows])
    for name, field in CSV_COLUMNS.items():
        table[name] = rows[field].to_numpy()
    if not (rows["kind"] == "change").any():
        table = table.drop(columns=["from_regime"])
    return table.to_csv(index=False)


def cells_page(data):
    """Markdown: every cell of every contrast and change, with its own interval and test."""
    claims = claims_of(data)
    lines = [
        f"# Every cell of every contrast: grid `{data.grid}`",
        "",
        "Each cell is one setting of the other factors: its pairs, the mean paired "
        "difference in points of test accuracy, its 95% CI (mean ± t s_c / sqrt(n_c) on the "
        "cell's own n_c - 1 degrees of freedom; the pooled s_p where a cell has one pair) and "
        "the Holm p of its own t-test over the contrast's cells; + or - where that Holm p is "
        "below 0.05. Generated with the report; see its effects section for the method.",
        "",
    ]
    for _, r in data.contrasts.iterrows():
        where = (
            r[SPLIT]
            if r[REGIME] is None
            else (
                f"{r[SPLIT]}, {r['from_regime']} → {r[REGIME]}"
                if r["kind"] == "change"
                else f"{r[SPLIT]}, {r[REGIME]}"
            )
        )
        what = "change of " if r["kind"] == "change" else ""
        rows = [
            [
                name,
                n,
                number(mean),
                interval(low, high),
                p_value(holm_p),
                ("+" if mean > 0 else "-") if holm_p < ALPHA else "",
            ]
            for name, (_, n, mean, low, high, holm_p) in zip(r["cell_names"], r["per_cell"])
        ]
        claim = claims.of_row(r)
        lines += [
            f"## {where}: {what}{r['factor']} `{r['level']}` vs `{r['baseline']}`",
            "",
            f"{short(claim)}; Δ {number(r['delta'])}, Holm p {p_value(claim['holm_p'])}.",
            "",
            md_table(
                pd.DataFrame(
                    rows, columns=["cell", "pairs", "Δ", "95% CI", "Holm p", "beyond noise"]
                )
            ),
            "",
        ]
    return "\n".join(lines)


FIRST_SCREEN = (
    "**Verdicts** (test accuracy, points; every row one claim of "
    "[{grid}_claims.csv]({grid}_claims.csv)). *across settings*: the random-effects test over "
    "the other factors' levels survives Holm; *on average*: only the mean over these cells "
    "does; *cells beyond noise*: each cell's own test, Holm within the contrast, with the "
    "estimate's sign / against it, and *the other way* names those against it; † smaller than "
    "the test-set SE; MDE: effects smaller could go undetected. Details and method under "
    "*With and without each component*."
)


def verdicts(data):
    """The first screen: the title, the verdict table and a line per level that never changed a
    run, the changes between regimes, the best configuration on validation per regime, and the
    forest plot of every contrast."""
    lines = [f"# scratchbench report: grid `{data.grid}`", ""]
    if data.ok.empty or not data.factors:
        return Section("\n".join(lines).rstrip())
    claims = claims_of(data)
    family = data.contrasts
    contrasts = family[(family["kind"] == "contrast") & (family["pairs"] > 0)]
    if len(contrasts):
        lines += [FIRST_SCREEN.format(grid=data.grid), "", verdict_table(data), ""]
        never = claims.of("never acted")["sentence"]
        lines += [*(f"**Never acted**: {s}." for s in never), *([""] if len(never) else [])]
    if len(claims.of("regime change")):
        lines += [
            "**Changes between regimes** (the gap's difference on matched cells and seeds; "
            "*carried by*: the side whose own change it is):",
            "",
            change_table(data),
            "",
        ]
    lines += [
        "**Best on validation**, per regime (lead over the runner-up, paired over seeds; a tie "
        "where its interval holds 0; test accuracy mean and sd over seeds):",
        "",
        best_table(data),
        "",
    ]
    figures = {}
    for dataset in data.datasets:
        rows = contrasts[contrasts[SPLIT] == dataset]
        if not len(rows):
            continue
        name = f"forest_{dataset}.png"
        figures[name] = plots.forest_figure(
            f"{dataset}: every contrast, cell by cell",
            [forest_row(r, claims) for _, r in rows.iterrows()],
            "difference in test accuracy (points, level - baseline)",
        )
        lines += [figure_link(data, name), ""]
    files = {f"{data.grid}_claims.csv": claims.csv()}
    return Section("\n".join(lines).rstrip(), figures, files)


def forest_row(row, claims):
    where = "" if row[REGIME] is None else f"{row[REGIME]}: "
    label = f"{where}{row['factor']} {row['level']} vs {row['baseline']}"
    claim = claims.of_row(row)
    holm = p_value(claim["holm_p"])
    return (
        label,
        [cell[2:5] for cell in row["per_cell"]],
        (row["delta"], row["ci_low"], row["ci_high"]),
        (row["across_ci_low"], row["across_ci_high"]),
        f"{short(claim)} (Holm p {holm})" if np.isfinite(claim["holm_p"]) else short(claim),
    )


def cost(data):
    if data.ok.empty or not data.factors:
        return Section("")
    colour_by, marker_by = ([*scatter_factors(data.factors), None])[:2]
    lines = [
        "## Cost",
        "",
        "Each point is one configuration (mean over seeds): test accuracy against "
        "training time"
        + (f", coloured by {colour_by}" if colour_by else "")
        + (f" and marked by {marker_by}" if marker_by else "")
        + "; the Pareto front (nothing both faster and more accurate) is outlined.",
        "",
    ]
    configs = data.config_means(data.ok).assign(acc=lambda d: d["test_acc_mean"] * POINTS)
    figures = {}
    for dataset in data.datasets:
        part = configs[configs[SPLIT] == dataset]
        ordered = part[pareto_front(part["train_time_s"], part["acc"])].sort_values("train_time_s")
        name = f"cost_{dataset}.png"
        figures[name] = plots.cost_figure(dataset, part, colour_by, marker_by, ordered)
        lines += [
            figure_link(data, name),
            "",
            f"Pareto front on {dataset}:",
            "",
            md_table(
                ordered[[*data.factors, "acc", "train_time_s"]].rename(
                    columns={"acc": "test acc %", "train_time_s": "train s"}
                )
            ),
            "",
        ]
    return Section("\n".join(lines + time_to_target(data)), figures)


def time_to_target(data):
    """Markdown lines: per factor, each level's share of runs reaching the validation target and
    median epochs and seconds to it, per regime and dataset, with the Holm p of findings.
    target_tests beside the first level of each group."""
    tests = target_tests(data)
    targets = ", ".join(
        f"{d} {100 * DATASETS[d].target_val_acc:.0f}%" for d in data.datasets if d in DATASETS
    )
    family = int(tests["p"].notna().sum())
    lines = [
        "### Time to target",
        "",
        f"Epochs and training seconds until validation accuracy first reaches the "
        f"dataset's target ({targets}): {TARGET_RULE.format(family=family)}.",
        "",
    ]
    regimes = data.regimes != [None]
    for factor in dict.fromkeys(tests["factor"]):
        rows = []
        for (regime, dataset), group in tests[tests["factor"] == factor].groupby(
            [REGIME, SPLIT], sort=False, dropna=False
        ):
            epochs, seconds = (group[group["unit"] == u].iloc[0] for u in TARGET_TIMES)
            ok = data.in_regime(data.ok_on(dataset), None if pd.isna(regime) else regime)
            for k, (level, times) in enumerate(epochs["times"].items()):
                rows.append(
                    [
                        *([regime] if regimes else []),
                        dataset,
                        level,
                        f"{np.isfinite(times).mean() * 100:.0f}%",
                        time_text(epochs["medians"][level], "epochs"),
                        time_text(seconds["medians"][level], "seconds"),
                        ok.loc[ok[factor] == level, "s_per_epoch"].mean(),
                        "" if k else p_value(epochs["p_holm"]),
                        "" if k else p_value(seconds["p_holm"]),
                    ]
                )
        lines += [
            f"**{factor}**",
            "",
            md_table(
                pd.DataFrame(
                    rows,
                    columns=[
                        *([REGIME] if regimes else []),
                        SPLIT,
                        factor,
                        "runs reaching",
                        "median epochs",
                        "median s",
                        "s/epoch",
                        "Holm p epochs",
                        "Holm p s",
                    ],
                )
            ),
            "",
        ]
    return lines


IMPORTANCE_TEXT = (
    "Share (%) of the variance of test accuracy due to each factor, each pair of factors, the "
    "higher-order interactions (the rest of the cell means) and the seeds within each cell, "
    "{where}, over the factors that vary there, each finished run once, with 95% BCa CIs of a "
    "stratified bootstrap (seeds resampled within cells). Computed by the method of unweighted "
    "means (Yates 1934): the terms of the table of cell means times the harmonic mean of the "
    "cell sizes, and the pooled within-cell sum of squares. With the same number of runs in "
    "every cell (balanced) that is the exact decomposition of the total sum of squares; with "
    "unequal cells (runs missing or failed) it is an approximation, said so below, in which no "
    "share can be negative; a design with an empty cell is not decomposed. Shares depend on "
    "the levels the grid chose."
)


def importance(data):
    groups = importance_groups(data)
    if data.ok.empty or not groups:
        return Section("")
    where = (
        "within each regime and dataset (regimes are separate protocols, never pooled)"
        if data.regimes != [None]
        else "per dataset"
    )
    lines = ["## Factor importance", "", IMPORTANCE_TEXT.format(where=where), ""]
    for (regime, factors), by_dataset in groups.items():
        title = f"over {', '.join(factors)}"
        lines += [
            f"### {title if regime is None else f'Regime `{regime}`, {title}'}",
            "",
            "; ".join(f"{d}: {design_words(found)}" for d, found in by_dataset.items()) + ".",
            "",
        ]
        sources = decomposition_sources(list(factors))
        table = pd.DataFrame({"source": sources})
        for dataset, found in by_dataset.items():
            if found.shares:
                table[f"{dataset} %"] = [
                    number(POINTS * found.shares[s][0], ".1f") for s in sources
                ]
                table[f"{dataset} 95% CI"] = [
                    interval(POINTS * found.shares[s][1], POINTS * found.shares[s][2], ".1f")
                    for s in sources
                ]
        if len(table.columns) > 1:
            lines += [md_table(table), ""]
    return Section("\n".join(lines))


def describe_sklearn(configs):
    """scikit-learn's MLPClassifier call behind sklearn_mlp runs: the trainer's own arguments
    (trainers.sklearn_arguments, its batch size as set), but random_state, said once. A config
    it cannot train (its runs are errors) has no call."""
    calls = []
    for config in configs:
        try:
            settings = sklearn_arguments(config)
        except ValueError:
            continue
        settings.pop("random_state")
        call = (
            f"`MLPClassifier({', '.join(f'{k}={v!r}' for k, v in settings.items())})`, "
            f"{config['epochs']} epochs of `partial_fit`, random_state = seed"
        )
        if call not in calls:
            calls.append(call)
    return calls


def references(data):
    """The reference grids the report declares (`needs.references`), beside the published
    accuracy of their levels (`needs.published`), where their results exist."""
    if not data.needs.references:
        return Section("")
    lines = ["## Baselines", ""]
    found = False
    for other in grids_with_results(data, data.needs.references):
        found = True
        keys = [SPLIT, *other.factors]
        rows = []
        for key, group in other.ok.groupby(keys, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            published = data.needs.published.get(key[-1])
            rows.append(
                [
                    *key,
                    mean_std(group["test_acc"]),
                    len(group),
                    f"{100 * published:.1f}" if published else "",
                    group["s_per_epoch"].mean(),
                ]
            )
        sklearn = [c for c in other.configs.values() if c.get("trainer") == "sklearn_mlp"]
        what = (
            " scikit-learn's `MLPClassifier` (scikit-learn's trainer, not nn_core): "
            + "; ".join(describe_sklearn(sklearn))
            + "."
            if sklearn
            else ""
        )
        lines += [
            f"Grid `{other.grid}` (same splits, measured by the same harness).{what}",
            "",
            md_table(
                pd.DataFrame(rows, columns=[*keys, "test acc %", "seeds", "published %", "s/epoch"])
            ),
            "",
        ]
    if not found:
        grids = " ".join(f"--grid {g}" for g in data.needs.references)
        lines.append(
            f"_no results for {', '.join(data.needs.references)}: run `python run_all.py {grids}`_"
        )
    return Section("\n".join(lines))


def best_model(data):
    if data.ok.empty:
        return Section("")
    lines, figures = (
        [
            "## The best model",
            "",
            "Per dataset, the seed with the best final validation accuracy of the "
            "configuration chosen in the summary (on validation).",
            "",
        ],
        {},
    )
    for dataset, (best, _) in data.choices.items():
        run = (
            data.runs_of(data.ok_on(dataset), best)
            .sort_values("final_val_acc", ascending=False, kind="stable")
            .iloc[0]
        )
        record = data.records[run["run_id"]]
        confusion = np.asarray(record["test_confusion"], dtype=np.int64)
        names = class_names(dataset, len(confusion))
        se = POINTS * binomial_se(run["test_acc"], int(confusion.sum()))
        table = pd.DataFrame(confusion, columns=names)
        table.insert(0, "true", names)
        table["per-class acc %"] = POINTS * np.diag(confusion) / confusion.sum(axis=1)
        levels = " / ".join(map(str, best[list(data.factors)]))
        title = f"{dataset}: {levels + ', ' if levels else ''}seed {run[REPLICATE]}"
        confusion_name = f"confusion_{dataset}.png"
        figures[confusion_name] = plots.confusion_figure(title, confusion, names)
        lines += [
            f"### {title} (test acc {POINTS * run['test_acc']:.2f}% ± {se:.2f} test-set SE)",
            "",
            "Confusion matrix (rows: true class, columns: predicted; counts of test images):",
            "",
            md_table(table, ".1f"),
            "",
            figure_link(data, confusion_name),
            "",
        ]
        drawn = misclassified(data, dataset, record, names)
        if isinstance(drawn, str):
            lines += [drawn, ""]
        else:
            name = f"misclassified_{dataset}.png"
            figures[name] = drawn
            lines += [figure_link(data, name), ""]
    return Section("\n".join(lines), figures)


def misclassified(data, dataset, record, names):
    """The figure of the first misclassified test images, or a line saying why there is none."""
    wrong = record.get("test_misclassified", [])
    if not wrong:
        return "_no misclassified test images recorded_"
    shape = tuple(DATASETS[dataset].image_shape)
    if len(shape) != 2:  # flat features (d,) or a shape not drawable as one grey image
        return f"_not drawn: the inputs are not images (shape {shape})_"
    try:
        raw = DATASETS[dataset].load_raw(data.data_dir)
    except (DatasetError, IdxFormatError) as err:
        return f"_misclassified images not drawn: {err}_"
    return plots.image_grid(
        f"{dataset}: first misclassified test images (true → predicted)",
        [raw["test_images"][i] for i, _, _ in wrong],
        [f"#{i}: {names[t]}\n→ {names[p]}" for i, t, p in wrong],
        shape,
    )


def failures(data):
    bad = data.df[data.df["status"].isin(["diverged", "error"])]
    lines = ["## Failures", ""]
    if bad.empty:
        return Section("\n".join(lines + ["_none: every finished run ended with finite loss_"]))
    bad = bad.assign(
        reason=[
            e if isinstance(e, str) else f"non-finite loss after {int(n or 0)} full epochs"
            for e, n in zip(bad["error"], bad["epochs_run"])
        ]
    )
    return Section(
        "\n".join(lines + [md_table(bad[[SPLIT, *data.factors, REPLICATE, "status", "reason"]])])
    )


def all_runs(data):
    name = f"{data.grid}_summary.csv"
    return Section("\n".join(["## All runs", "", f"Every run, one row each: [{name}]({name})."]))


# The report, top to bottom. A new section is one function above and one entry here, or, from a
# study or plugin, one register_section call.
SECTIONS = [
    verdicts,
    header,
    summary,
    effects,
    tuning,
    lr_sharing,
    generalization_gap,
    seed_variance,
    anchor,
    distributions,
    interactions,
    curves,
    cost,
    importance,
    references,
    best_model,
    failures,
    all_runs,
]


class SectionError(ValueError):
    """A section registered where it cannot go (one line, naming the valid choices)."""


def register_section(section, after="importance"):
    """Add `section` (a function data -> Section; Section("") for a grid it does not apply to)
    to every report, right after the section function named `after` in SECTIONS. A study or a
    plugin calls it at import, e.g. `register_section(my_table, after="cost")`; registering the
    same function again is a no-op (a study imported twice), an unknown `after` a SectionError."""
    names = [s.__name__ for s in SECTIONS]
    if section in SECTIONS:
        return section
    if after not in names:
        raise SectionError(
            f"register_section: no section {after!r} to follow; valid: {', '.join(names)}"
        )
    SECTIONS.insert(names.index(after) + 1, section)
    return section
