"""The figures drawn by level of each factor: IQM and performance profiles, the interaction
heatmaps and the learning curves. A grid with a regime axis gets a row of panels per regime:
regimes are separate protocols (other budgets, lr rules, levels), so no panel pools runs of two
regimes, and each row compares the factors that vary in its regime, in the grid's order.
"""

import itertools

import numpy as np
import pandas as pd

from ..stats.aggregates import curve_band, iqm_ci, performance_profile
from . import plots
from .columns import POINTS, REGIME
from .text import Section, figure_link, interval, md_table

PROFILE_POINTS = 101  # accuracy thresholds per performance profile
FACETS_TEXT = (
    " A grid with regimes gets a row of panels per regime, over the factors that vary in it; "
    "runs of two regimes never share a panel."
)
DISTRIBUTIONS_TEXT = (
    "Per level, over all its runs: the interquartile mean (IQM, the mean of the middle half of "
    "the runs) of test accuracy with a 95% stratified-bootstrap BCa CI (runs resampled within "
    "each cell of the other factors; rliable, Agarwal et al. 2021), and performance profiles: "
    "the fraction of runs scoring above each accuracy tau, with 95% percentile bands of the "
    "same bootstrap."
)
CURVES_TEXT = (
    "Validation accuracy per epoch: for each level, the mean over its runs, with a 95% band of "
    "the stratified bootstrap (seeds resampled within each cell of the other factors; no band "
    "with a single seed), a panel per factor."
)


def cells(frame, factors):
    """Stratum of each row: its tuple of the given factors' levels."""
    return (
        list(frame[list(factors)].itertuples(index=False, name=None))
        if factors
        else [()] * len(frame)
    )


def level_runs(data, subset, factor):
    """(level, its runs in `subset`, their cells of the other factors) for each level of
    `factor` that has runs: what a per-level bootstrap resamples within."""
    others = [f for f in data.factors if f != factor]
    for level in data.levels(factor):
        runs = subset[subset[factor] == level]
        if len(runs):
            yield level, runs, cells(runs, others)


def varying(data):
    """{regime: the factors that vary in it, in grid order} (regime None: the grid has none)."""
    return {regime: data.contrasted(regime) for regime in data.regimes}


def facets(subset, varied, data):
    """[(regime, its rows of `subset`, its factors in `varied`)] for each regime with runs in
    `subset` and a factor to compare (`varied` from varying(data))."""
    out = []
    for regime, factors in varied.items():
        rows = data.in_regime(subset, regime)
        if len(rows) and factors:
            out.append((regime, rows, factors))
    return out


def panel_title(regime, text):
    return text if regime is None else f"{regime}: {text}"


def with_text(base, data):
    return base + (FACETS_TEXT if data.regimes != [None] else "")


def distributions(data):
    varied = varying(data)
    if data.ok.empty or not any(varied.values()):
        return Section("")
    lines = [
        "## Distributions: IQM and performance profiles",
        "",
        with_text(DISTRIBUTIONS_TEXT, data),
        "",
    ]
    figures = {}
    for dataset in data.datasets:
        regimes = facets(data.ok_on(dataset), varied, data)
        if not regimes:  # e.g. its runs are all pending
            continue
        table, rows = [], []
        for regime, runs_of_regime, factors in regimes:
            scores = runs_of_regime["test_acc"] * POINTS  # each regime its own range
            taus = np.linspace(np.nanpercentile(scores, 5), scores.max(), PROFILE_POINTS)
            panels = []
            for factor in factors:
                profiles = []
                for level, runs, strata in level_runs(data, runs_of_regime, factor):
                    values = runs["test_acc"].to_numpy(float) * POINTS
                    weights = data.bootstrap_weights(strata)
                    estimate, low, high, _ = iqm_ci(values, weights)
                    table.append(
                        [regime, factor, level, estimate, interval(low, high, ".2f"), len(values)]
                    )
                    profiles.append((level, taus, *performance_profile(values, taus, weights)))
                panels.append((panel_title(regime, f"by {factor}"), profiles))
            rows.append(panels)
        name = f"profiles_{dataset}.png"
        figures[name] = plots.band_figure(
            f"{dataset}: fraction of runs with test accuracy above tau",
            rows,
            "tau: test acc %",
            "fraction of runs",
            (0, 1.02),
        )
        frame = pd.DataFrame(table, columns=[REGIME, "factor", "level", "IQM %", "95% CI", "runs"])
        lines += [
            f"### {dataset}",
            "",
            md_table(frame if data.regimes != [None] else frame.drop(columns=REGIME)),
            "",
            figure_link(data, name),
            "",
        ]
    return Section("\n".join(lines), figures)


def interactions(data):
    varied = varying(data)
    if data.ok.empty or all(len(factors) < 2 for factors in varied.values()):
        return Section("")
    alone = [
        f"`{regime}` ({factors[0]} alone)"
        for regime, factors in varied.items()
        if len(factors) == 1
    ]
    lines = [
        "## Interactions",
        "",
        "Mean test accuracy (%) of each pair of factors that vary together (the mean over "
        "the other factors' levels and the seeds), "
        + ("a row of panels per regime; " if data.regimes != [None] else "")
        + "all panels of a dataset share one colour scale."
        + (
            f" Not drawn: {', '.join(alone)}, with no second factor varying in its regime."
            if alone
            else ""
        ),
        "",
    ]
    figures = {}
    for dataset in data.datasets:
        rows = []
        for regime, runs, factors in facets(data.ok_on(dataset), varied, data):
            panels = []
            for first, second in itertools.combinations(factors, 2):
                table = runs.groupby([first, second])["test_acc"].mean().unstack() * POINTS
                panels.append(
                    (
                        panel_title(regime, f"{first} x {second}"),
                        table.reindex(
                            index=pd.Index(data.levels_in(first, regime), name=first),
                            columns=pd.Index(data.levels_in(second, regime), name=second),
                        ),
                    )
                )
            if panels:
                rows.append(panels)
        if rows:
            name = f"interactions_{dataset}.png"
            figures[name] = plots.interaction_figure(dataset, rows)
            lines += [figure_link(data, name), ""]
    return Section("\n".join(lines), figures)


def curves(data):
    varied = varying(data)
    if data.ok.empty or not any(varied.values()):
        return Section("")
    lines = ["## Learning curves", "", with_text(CURVES_TEXT, data), ""]
    figures = {}
    for dataset in data.datasets:
        subset = data.ok_on(dataset)
        rows = []
        for regime, runs_of_regime, factors in facets(subset, varied, data):
            panels = []
            for factor in factors:
                bands = []
                for level, runs, strata in level_runs(data, runs_of_regime, factor):
                    histories = [data.records[r]["history"]["val_acc"] for r in runs["run_id"]]
                    stacked = np.full((len(histories), max(map(len, histories))), np.nan)
                    for i, history in enumerate(histories):
                        stacked[i, : len(history)] = history
                    mean, low, high = curve_band(stacked * POINTS, data.bootstrap_weights(strata))
                    bands.append((level, np.arange(1, len(mean) + 1), mean, low, high))
                panels.append((panel_title(regime, f"by {factor}"), bands))
            rows.append(panels)
        if not rows:
            continue
        low = np.nanpercentile(subset["best_val_acc"] * POINTS, 10)
        name = f"curves_{dataset}.png"
        figures[name] = plots.band_figure(
            dataset, rows, "epoch", "val acc %", (max(0.0, low - 5), 100)
        )
        lines += [figure_link(data, name), ""]
    return Section("\n".join(lines), figures)
