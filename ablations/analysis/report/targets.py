"""Time to the validation target, per regime, dataset and factor, as a test: each level's
median epochs and seconds (a run that never reached the target, or diverged, counted as never)
and a Kruskal-Wallis test across the levels, Holm over every such test of the report. The test
says whether the levels differ, the medians which is lowest; ties are said as ties.
"""

import numpy as np
import pandas as pd

from ..stats.paired import holm
from ..stats.ranks import kruskal_p, median_time
from .columns import REGIME, SPLIT
from .contrasts import ALPHA
from .text import p_clause

TARGET_TIMES = {"epochs": "epochs_to_target", "seconds": "seconds_to_target"}
TARGET_RULE = (
    "medians over the finished runs, a run that never reached it counted as never; "
    "Kruskal-Wallis across a factor's levels, Holm over the report's {family} such tests: the "
    "test says whether the levels differ, the medians which is lowest"
)


def target_tests(data):
    """One row per regime (None without one), dataset, factor varying in the regime and unit
    (TARGET_TIMES): {level: its finished runs' times} (a miss, or a diverged run, as inf), the
    median of each level, the Kruskal-Wallis p across levels (stats.ranks) and its Holm
    adjustment over every row."""
    finished = data.df[data.df["status"].isin(["ok", "diverged"])]
    rows = []
    for regime in data.regimes:
        for dataset in data.datasets:
            part = data.in_regime(finished[finished[SPLIT] == dataset], regime)
            for factor in data.contrasted(regime):
                for unit, column in TARGET_TIMES.items():
                    times = {
                        level: part.loc[part[factor] == level, column]
                        .fillna(np.inf)
                        .to_numpy(float)
                        for level in data.levels_in(factor, regime)
                    }
                    times = {level: t for level, t in times.items() if len(t)}
                    rows.append(
                        {
                            REGIME: regime,
                            SPLIT: dataset,
                            "factor": factor,
                            "unit": unit,
                            "times": times,
                            "medians": {k: median_time(t) for k, t in times.items()},
                            "p": kruskal_p(list(times.values())),
                        }
                    )
    tests = pd.DataFrame(rows, columns=[REGIME, SPLIT, "factor", "unit", "times", "medians", "p"])
    return tests.assign(p_holm=holm(tests["p"].to_numpy(float)) if len(tests) else [])


def time_text(value, unit):
    """A median time to target: '1 epoch', '2.5 epochs', '4.2 s', 'never' (over half missed)."""
    if not np.isfinite(value):
        return "never"
    return f"{value:g} epoch{'s' * (value != 1)}" if unit == "epochs" else f"{value:.1f} s"


def time_span(values, unit):
    """'2 epochs', '1.1-2.1 s' or '3 epochs to never' for the sorted medians `values`."""
    low, high = values[0], values[-1]
    if low == high:
        return time_text(low, unit)
    if not np.isfinite(high):
        return f"{time_text(low, unit)} to never"
    return f"{low:{'g' if unit == 'epochs' else '.1f'}}-{time_text(high, unit)}"


def fastest_words(medians, unit):
    """The level(s) with the lowest median, ties named as ties, and the others' range."""
    lowest = min(medians.values())
    tied = [f"`{level}`" for level, m in medians.items() if m == lowest]
    others = sorted(m for m in medians.values() if m != lowest)
    if not others:
        return f"every level's median is {time_text(lowest, unit)}, yet the test finds them shifted against each other (Kruskal-Wallis compares mean ranks, a location test, not spreads)"
    lead = f"{', '.join(tied)} tie lowest" if len(tied) > 1 else f"{tied[0]} lowest"
    return f"{lead} at {time_text(lowest, unit)} (others {time_span(others, unit)})"


def target_finding(data):
    """Per regime, the factors whose levels differ in epochs or seconds to the validation
    target (target_tests after Holm), with the fastest level by median; ties said as ties."""
    tests = target_tests(data)
    if not len(tests) or tests["p"].isna().all():
        return []
    rule = (
        f"Kruskal-Wallis across a factor's levels, Holm over the report's "
        f"{int(tests['p'].notna().sum())} such tests; medians, a miss counted as never"
    )
    found = []
    for regime in data.regimes:
        mine = tests[[r == regime for r in tests[REGIME]]]
        said = [
            f"{r[SPLIT]} {r['factor']}, {r['unit']}: "
            f"{fastest_words(r['medians'], r['unit'])}, {p_clause('Holm p', r['p_holm'])}"
            for _, r in mine[mine["p_holm"] < ALPHA].iterrows()
        ]
        body = (
            "; ".join(said) + "; no other factor's levels differ"
            if said
            else "no factor's levels differ in epochs or in seconds"
        )
        where = "" if regime is None else f", {regime} regime"
        found.append(f"**Time to the validation target**{where} ({rule}): {body}.")
    return found
