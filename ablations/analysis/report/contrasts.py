"""The report's family of claims: every level against its factor's baseline (per dataset and
regime) and every change of such a contrast between two regimes on matched cells, each answered
over these settings and across settings (stats.cells.two_questions), with Holm's adjustment over
every test the report can claim from, the power of that rule, and the verdict it supports.

The family: the over-these-settings test of every contrast and change, and the across-settings
test of those whose cells form a complete crossed table with at least MIN_LEVELS levels per
factor (the random-effects test of stats.cells; whether it is in is decided by the design
alone, so Holm still controls the family-wise error). Each test's distribution-free companion (a sign-flip test) is adjusted over
the same family, so a verdict can say whether it rests on normal theory alone. A minimum
detectable effect is for that rule: the test at the threshold ALPHA / m that Holm's first step
sets (later steps are more lenient).
"""

import itertools

import numpy as np
import pandas as pd

from ..stats.cells import TwoQuestions, detectable_effect, levels_needed, two_questions
from ..stats.paired import holm, mean_ci, pair_up
from .columns import POINTS, REGIME, REPLICATE, SPLIT

ALPHA = 0.05  # family-wise error rate of the findings
# An across-settings test enters the family where every crossed factor has this many levels: a
# variance over two levels has one degree of freedom, too few to say a factor's levels generalize.
MIN_LEVELS = 3
METRICS = ["test_acc", "s_per_epoch"]  # contrasted (in points) and timed (s/epoch) per pair
FIELDS = [f for f in TwoQuestions.__dataclass_fields__ if f != "per_cell"]
# A verdict: the question whose test survived Holm, or why none could.
ACROSS, AVERAGE, NONE, UNTESTABLE = (
    "across settings",
    "over these settings",
    "not distinguishable",
    "cannot test",
)


def cell_name(key, names):
    """'sgd / none' for a cell's levels `key` of the factors `names` (None: a factor that does
    not vary, left out); 'the one cell' where none varies."""
    return (
        " / ".join(str(level) for name, level in zip(names, key) if name is not None)
        or "the one cell"
    )


def varying(frame, others):
    """`others` with None in place of a factor that has one level in the index of `frame` (not
    worth naming in a cell's name)."""
    return [f if frame.index.get_level_values(f).nunique() > 1 else None for f in others]


def differences(data, subset, factor, regime):
    """(baseline, the other factors, {level: DataFrame}): for each level of `factor` but its
    baseline in `regime`, its paired runs indexed by seed and the other factors, with columns
    diff (test accuracy, points) and time (s/epoch), level minus baseline, and each side's own
    test accuracy (level_acc, base_acc, points) and run id (level_run, base_run)."""
    others = [f for f in data.factors if f not in (factor, REGIME)]
    base, *levels = data.levels_in(factor, regime)
    pairs_of = pair_up(subset, factor, [REPLICATE, *others], [*METRICS, "run_id"])
    out = {}
    for level in levels:
        both = pairs_of(level, base)
        out[level] = pd.DataFrame(
            {
                "diff": POINTS * (both["test_acc_a"] - both["test_acc_b"]),
                "time": both["s_per_epoch_a"] - both["s_per_epoch_b"],
                "level_acc": POINTS * both["test_acc_a"],
                "base_acc": POINTS * both["test_acc_b"],
                "level_run": both["run_id_a"],
                "base_run": both["run_id_b"],
            },
            index=both.index,
        )
    return base, others, out


def answer(frame, names, companions=True):
    """(TwoQuestions of the `diff` column of `frame` (indexed by seed, then the cell's levels),
    the cells' names, the factors that name them). companions: cells.two_questions'."""
    paired = frame.dropna(subset=["diff"])
    keys = [tuple(k[1:]) for k in paired.index] if paired.index.nlevels > 1 else [()] * len(paired)
    result = two_questions(paired["diff"].to_numpy(float), keys, companions=companions)
    return (
        result,
        [cell_name(c[0], names) for c in result.per_cell],
        " / ".join(name for name in names if name is not None),
    )


def family_frames(data):
    """[(kind, key, others, frame)] of every contrast ('contrast': differences' frame of one
    level) and then every change between two regimes ('change': regime_change of its two
    contrasts' frames, possibly empty), in the family's order, built once per report (data.memo).
    key: (dataset, regime, from_regime, factor, level, baseline), from_regime None for a
    contrast; others: the factors its cells vary over."""
    if "family_frames" not in data.memo:
        data.memo["family_frames"] = list(walk_family(data))
    return data.memo["family_frames"]


def walk_family(data):
    """family_frames' entries, one by one."""
    frames = {}
    for dataset in data.datasets:
        for regime in data.regimes:
            subset = data.in_regime(data.ok_on(dataset), regime)
            for factor in data.contrasted(regime):
                base, others, by_level = differences(data, subset, factor, regime)
                for level, frame in by_level.items():
                    frames[dataset, regime, factor, level, base] = frame
                    yield "contrast", (dataset, regime, None, factor, level, base), others, frame
    for (dataset, factor, level, base), regimes in regime_pairs(frames):
        others = [f for f in data.factors if f not in (factor, REGIME)]
        for first, second in itertools.combinations(regimes, 2):
            change = regime_change(
                *(frames[dataset, r, factor, level, base] for r in (first, second))
            )
            yield "change", (dataset, second, first, factor, level, base), others, change


def contrast_rows(data):
    """Rows (dicts) of every contrast and every regime change with pairs, before Holm: both
    questions, the cells' names, the run ids, and a contrast's time difference or a change's
    sides (each side's own change, without companions: no verdict rests on it)."""
    rows = []
    for kind, key, others, frame in family_frames(data):
        if kind == "change" and not len(frame):
            continue
        names = varying(frame, others)
        result, *cell_names = answer(frame, names)
        if kind == "contrast":
            time_mean, time_half, _ = mean_ci(frame["time"].dropna())
            extra = {"time_mean": time_mean, "time_half": time_half}
        else:
            extra = {
                "sides": {
                    side: answer(
                        frame.assign(diff=frame[f"{side}_change"]), names, companions=False
                    )[0]
                    for side in SIDES
                },
                "same": {s: float(frame[f"{s}_same"].mean()) for s in SIDES},
            }
        rows.append(
            row_of(
                kind, *key, result, cell_names, run_ids=runs_in(frame, run_columns(kind)), **extra
            )
        )
    return rows


SIDES = ("level", "base")  # the two sides of a contrast, each with its own change between regimes


def regime_change(earlier, later):
    """The change of one contrast between two regimes on the seeds and cells both have: `diff`
    (the effect in `later` minus the effect in `earlier`, points), `<side>_change` (that side's
    own test accuracy in `later` minus in `earlier`, so diff = level_change - base_change),
    `<side>_same` (whether that side's run is the same record in both regimes: a setting both
    regimes share, e.g. a tuned lr equal to the default) and the four run ids."""
    matched = earlier.merge(later, left_index=True, right_index=True, suffixes=("_1", "_2"))
    matched = matched.dropna(subset=["diff_1", "diff_2"])
    return pd.DataFrame(
        {
            "diff": matched["diff_2"] - matched["diff_1"],
            **{f"{s}_change": matched[f"{s}_acc_2"] - matched[f"{s}_acc_1"] for s in SIDES},
            **{f"{s}_same": matched[f"{s}_run_1"] == matched[f"{s}_run_2"] for s in SIDES},
            **{f"{s}_run_{k}": matched[f"{s}_run_{k}"] for s in SIDES for k in (1, 2)},
        },
        index=matched.index,
    )


def run_columns(kind):
    """The columns of a family frame of `kind` ('contrast' or 'change') that hold run ids: a
    contrast's two sides, a change's two sides in each of its two regimes."""
    if kind == "contrast":
        return ["level_run", "base_run"]
    return [f"{side}_run_{k}" for side in SIDES for k in (1, 2)]


def runs_in(frame, columns):
    """The sorted distinct run ids in `columns` of `frame`."""
    return tuple(sorted(set(frame[columns].to_numpy().ravel())))


def regime_pairs(frames):
    """[((dataset, factor, level, baseline), [regimes in grid order])] of the contrasts found
    in two or more regimes with the same baseline: their changes between regimes."""
    found = {}
    for dataset, regime, factor, level, base in frames:
        if regime is not None:
            found.setdefault((dataset, factor, level, base), []).append(regime)
    return [(key, regimes) for key, regimes in found.items() if len(regimes) > 1]


def row_of(kind, dataset, regime, from_regime, factor, level, base, result, names, **extra):
    """One family row; `names`: (the cells' names, the factors they are named by)."""
    cell_names, cell_factors = names
    return {
        "kind": kind,
        SPLIT: dataset,
        REGIME: regime,
        "from_regime": from_regime,
        "factor": factor,
        "level": level,
        "baseline": base,
        **{f: getattr(result, f) for f in FIELDS},
        "cell_names": tuple(cell_names),
        "cell_factors": cell_factors,
        "per_cell": result.per_cell,
        "time_mean": extra.get("time_mean", np.nan),
        "time_half": extra.get("time_half", np.nan),
        "run_ids": extra["run_ids"],
        "sides": extra.get("sides"),
        "same": extra.get("same"),
    }


def contrast_family(data):
    """DataFrame, one row per contrast (kind 'contrast') and regime change (kind 'change': the
    effect in `regime` minus the effect in `from_regime`, on the cells and seeds both have),
    with the TwoQuestions fields in points, `p_holm` and `across_p_holm` (nan: not in the
    family), `mde` (over these settings) and `across_mde` at Holm's first threshold, `verdict`
    (ACROSS, AVERAGE, NONE or UNTESTABLE), `holm_p` of the claim made, `levels_needed` (per
    crossed factor, for an across-settings test that did not reach that threshold beside a
    verdict over these settings; None elsewhere) and `family_size`. Without a regime axis,
    `regime` is None and there are no changes."""
    family = pd.DataFrame(
        contrast_rows(data),
        columns=[
            "kind",
            SPLIT,
            REGIME,
            "from_regime",
            "factor",
            "level",
            "baseline",
            *FIELDS,
            "cell_names",
            "cell_factors",
            "per_cell",
            "time_mean",
            "time_half",
            "run_ids",
            "sides",
            "same",
        ],
    )
    across_in = np.isfinite(family["across_p"].to_numpy(float)) & np.array(
        [len(levels) > 0 and min(levels) >= MIN_LEVELS for levels in family["across_levels"]],
        bool,
    )
    n = len(family)

    def both(over, across):  # the family's two tests per row, over these settings then across
        return np.concatenate(
            [
                family[over].to_numpy(float),
                np.where(across_in, family[across].to_numpy(float), np.nan),
            ]
        )

    tests = both("p", "across_p")
    adjusted = holm(tests) if len(tests) else tests
    m = int(np.isfinite(tests).sum())
    threshold = ALPHA / max(m, 1)
    family["p_holm"], family["across_p_holm"] = adjusted[:n], adjusted[n:]
    # The distribution-free companions, adjusted the same way over the same family (a test
    # without a companion counts at p = 1, so it takes its place and no claim leans on it).
    companions = np.where(np.isfinite(tests), 1.0, np.nan)
    found = both("p_signflip", "across_p_signflip")
    companions = np.where(np.isfinite(found), found, companions)
    companions = holm(companions) if len(companions) else companions
    family["signflip_holm"], family["across_signflip_holm"] = companions[:n], companions[n:]
    family["family_size"] = m
    family["threshold"] = threshold
    family["mde"] = [
        detectable_effect(se, df, threshold) for se, df in zip(family["se"], family["df"])
    ]
    family["across_mde"] = [
        detectable_effect(se, df, threshold) if member else np.nan
        for se, df, member in zip(family["across_se"], family["across_df"], across_in)
    ]
    family["across_model"] = [
        model
        if member or not np.isfinite(p)
        else f"{model}; not tested: the test needs {MIN_LEVELS} levels or more per factor"
        for model, member, p in zip(family["across_model"], across_in, family["across_p"])
    ]
    family["verdict"] = [verdict(r) for _, r in family.iterrows()]
    # What the across-settings test would need, where a verdict over these settings stands
    # and that test, in the family, did not reach Holm's threshold (the words quote it there).
    family["levels_needed"] = [
        levels_needed(d, se, levels, threshold) if v == AVERAGE and member else None
        for d, se, levels, v, member in zip(
            family["delta"],
            family["across_se"],
            family["across_levels"],
            family["verdict"],
            across_in,
        )
    ]
    family["holm_p"] = [claim_p(r) for _, r in family.iterrows()]
    family["significant"] = family["verdict"].isin([ACROSS, AVERAGE])
    family["carried_by"] = [carried_by(r) for _, r in family.iterrows()]
    return family


def carried_by(row):
    """Which side a change between regimes comes from ('level', 'baseline' or 'both'; None for
    a contrast). The change is level_change - base_change (regime_change). A side whose runs are
    the same records in both regimes has a change of exactly 0, so the change is the other
    side's; otherwise a side carries it alone where only its own change's 95% interval
    (descriptive, unadjusted) excludes 0."""
    if row["kind"] != "change":
        return None
    same, sides = row["same"], row["sides"]
    if same["level"] == 1 and same["base"] < 1:
        return "baseline"
    if same["base"] == 1 and same["level"] < 1:
        return "level"
    moved = {s: not sides[s].ci_low <= 0 <= sides[s].ci_high for s in SIDES}
    if moved["level"] != moved["base"]:
        return "level" if moved["level"] else "baseline"
    return "both"


def verdict(row):
    """The strongest claim the rule supports: across settings, else over these settings, else
    not distinguishable where a test had power to see something, else cannot test."""
    if row["across_p_holm"] < ALPHA:
        return ACROSS
    if row["p_holm"] < ALPHA:
        return AVERAGE
    if np.isfinite(row["mde"]) or np.isfinite(row["across_mde"]):
        return NONE
    return UNTESTABLE


def claim_p(row):
    """Holm p of the test behind the verdict: the across-settings one where it was claimed, or
    where it is the only test there is; else the over-these-settings one."""
    if row["verdict"] == ACROSS or not np.isfinite(row["p_holm"]):
        return row["across_p_holm"]
    return row["p_holm"]


def claim_mde(row):
    """The effect the claim's rule would have seen at 80% power (over these settings where
    that test exists, else across settings)."""
    return row["mde"] if np.isfinite(row["mde"]) else row["across_mde"]


def in_family(family, dataset, regime, factor, kind="contrast"):
    """The family's rows of one kind, dataset, regime (None: no regime axis) and factor."""
    same_regime = family[REGIME].isna() if regime is None else family[REGIME] == regime
    return family[
        (family["kind"] == kind)
        & (family[SPLIT] == dataset)
        & same_regime
        & (family["factor"] == factor)
    ]
