"""Findings in plain words, computed from the contrast family and the variance decomposition:
an effect is stated only when it survives Holm at 5%; otherwise the level is called not
distinguishable from its baseline, with the effect the pairs at hand could have detected.
"""
import numpy as np

from ..datasets import DATASETS
from ..stats.factorial import HIGHER_ORDER, WITHIN
from ..diagnostics import best_level_by_regime
from .contrasts import ALPHA, in_family
from .frame import POINTS, REGIME, SPLIT
from .targets import target_finding
from .text import interval, p_clause

# The settings held fixed across a grid that every conclusion depends on: (config key, name,
# how to print it, None: not worth a mention). A key that varies within a dataset, or is absent,
# is not listed.
INPUTS = {"none": "scaled to [0, 1]", "global": "one global mean and std",
          "per_pixel": "standardized per pixel"}
FIXED_SETTINGS = [
    ("hidden", "architecture", None),
    ("epochs", "epochs", str),
    ("batch_size", "batch", str),
    ("normalize", "inputs", lambda v: INPUTS.get(v, v)),
    ("schedule", "schedule", str),
    ("train_size", "training images", lambda v: "all but validation" if v is None else str(v)),
    ("val_size", "validation images", lambda v: None if v is None else str(v)),  # None: default
    ("trainer", "trainer", str),
]


def level_phrase(row):
    """One contrast in words (`row` a row of the contrast family)."""
    level, base, n = f"`{row['level']}`", f"`{row['baseline']}`", int(row["n"])
    if n < 2:
        return f"{level}: {n} pair{'s' * (n != 1)} with {base}, too few to test"
    evidence = (f"95% CI {interval(row['ci_low'], row['ci_high'])}, "
                f"{p_clause('Holm p', row['p_holm'])}, P(A>B) = {row['p_improve']:.2f}, "
                f"{n} pairs")
    if row["significant"]:
        verb = "beats" if row["mean"] > 0 else "trails"
        return f"{level} {verb} {base} by {row['mean']:+.2f} points ({evidence})"
    phrase = (f"{level} is not distinguishable from {base} (no effect larger than "
              f"{row['mde']:.2f} points could be detected with {n} pairs")
    if row["p_floor"] > ALPHA:
        phrase += f"; with {n} pairs no exact test can reach p < {ALPHA}"
    return phrase + ")"


def contrast_findings(data):
    """One line per factor, dataset and regime: each level against the baseline, in words."""
    found = []
    factors = list(dict.fromkeys(f for r in data.regimes for f in data.contrasted(r)))
    for factor in factors:
        for dataset in data.datasets:
            for regime in data.regimes:
                rows = in_family(data.contrasts, dataset, regime, factor)
                if not len(rows):
                    continue
                paired = rows[rows["n"] > 0]
                unpaired = [f"no runs pair `{r['level']}` with the baseline `{r['baseline']}` "
                            f"(they differ in other settings too), so no effect is estimated"
                            for _, r in rows[rows["n"] == 0].iterrows()]
                ordered = paired.sort_values(["significant", "mean"], ascending=False)
                phrases = [level_phrase(r) for _, r in ordered.iterrows()] + unpaired
                where = dataset if regime is None else f"{dataset} ({regime} regime)"
                found.append(f"**{factor}** on {where}: " + "; ".join(phrases) + ".")
    return found


VERDICT_WORDS = {"beats": "beats", "trails": "trails", "ties": "is not distinguishable from"}


def verdict(row):
    """A contrast's conclusion in one word: 'beats', 'trails' or 'ties' (not significant)."""
    if not row["significant"]:
        return "ties"
    return "beats" if row["mean"] > 0 else "trails"


def regime_findings(data):
    """Where a conclusion changes between regimes: per dataset, a level whose verdict against
    its baseline differs between regimes, and a factor whose best level differs between the
    regimes where it varies (on `common_runs`)."""
    if len(data.regimes) < 2:
        return []
    family, found = data.contrasts, []
    for (dataset, factor, level, base), rows in family.groupby(
            [SPLIT, "factor", "level", "baseline"], sort=False):
        if len({verdict(r) for _, r in rows.iterrows()}) > 1:
            said = ", ".join(f"{VERDICT_WORDS[verdict(r)]} `{base}` in {r[REGIME]} "
                             f"({p_clause('Holm p', r['p_holm'])})" for _, r in rows.iterrows())
            found.append(f"**Changes between regimes**, {factor} on {dataset}: `{level}` {said}.")
    for factor in data.factors:
        regimes = [r for r in data.regimes if len(data.levels_in(factor, r)) > 1]
        if factor == REGIME or len(regimes) < 2:
            continue
        best = best_level_by_regime(common_runs(data, factor, regimes), factor, cell=(SPLIT,),
                                    regime=REGIME)
        for dataset, rows in best.groupby(SPLIT, sort=False):
            listed = ", ".join(f"`{r['best']}` in {r[REGIME]} "
                               f"({POINTS * r['best_test_acc']:.2f}%)"
                               for _, r in rows.iterrows())
            change = "changes between regimes" if rows["regimes_disagree"].any() else \
                "is the same in every regime"
            found.append(f"The best {factor} on {dataset} {change}: {listed} (highest mean "
                         f"test accuracy on the runs whose other factors each of these "
                         f"regimes has; a "
                         f"ranking of means, not a test: the contrasts above say which "
                         f"differences the statistics support).")
    return found


def common_runs(data, factor, regimes):
    """The finished runs of `regimes` whose factors other than `factor` and the regime sit at
    levels that each of those regimes has: the slice on which they can be set side by side
    (`regimes`: those where `factor` varies; a regime with one level has nothing to rank)."""
    keep = data.ok[REGIME].isin(regimes)
    for other in data.factors:
        if other in (factor, REGIME):
            continue
        shared = set.intersection(*(set(data.levels_in(other, r)) for r in regimes))
        keep &= data.ok[other].isin(shared)
    return data.ok[keep]


def design_words(found):
    """How a sub-design's finished runs fill its cells (`found` a frame.Importance), and what
    that makes of its shares."""
    balance = found.balance
    if found.planned < balance.cells:
        return (f"the grid does not cross these factors fully, {found.planned} of "
                f"{balance.cells} combinations: not decomposed")
    if balance.balanced:
        runs = f"{balance.runs_min} run{'s' * (balance.runs_min != 1)}"
        return f"balanced ({runs} in each of {balance.cells} cells): exact"
    if balance.complete:
        return (f"unbalanced ({balance.runs_min} to {balance.runs_max} runs in each of "
                f"{balance.cells} cells): unweighted means, an approximation")
    return (f"{balance.cells - balance.filled} of {balance.cells} cells without a finished run: "
            f"not decomposed")


def importance_groups(data):
    """{(regime, factors): {dataset: Importance}}: the sub-designs of data.importance that
    share one regime and one set of factors (one table each)."""
    groups = {}
    for (regime, dataset), found in data.importance.items():
        groups.setdefault((regime, found.factors), {})[dataset] = found
    return groups


def importance_finding(data):
    """Per regime, the source (factor or pair) with the largest share of test-accuracy
    variance on each dataset, with its CI, and the seed share: a ranking of point shares
    (stats.factorial), stated per dataset, never averaged over datasets."""
    found = []
    for (regime, factors), by_dataset in importance_groups(data).items():
        said, seeds = [], []
        for dataset, result in by_dataset.items():
            shares = result.shares
            if not shares:
                said.append(f"on {dataset} {design_words(result)}")
                continue
            exact = "exact" if result.balance.balanced else "approximate: unbalanced"
            top = max((s for s in shares if s not in (HIGHER_ORDER, WITHIN)),
                      key=lambda s: shares[s][0])
            share, low, high = (POINTS * v for v in shares[top])
            higher = shares.get(HIGHER_ORDER, (0.0,))[0]
            above = (f"; the higher-order interactions explain more, {POINTS * higher:.0f}%"
                     if higher > shares[top][0] else "")
            said.append(f"`{top}` on {dataset}, {share:.0f}% {interval(low, high, '.0f')} "
                        f"({exact}{above})")
            seeds.append(f"{dataset} {POINTS * shares[WITHIN][0]:.0f}%")
        where = "" if regime is None else f", {regime} regime"
        found.append(f"**Factor importance**{where} (over {', '.join(factors)}; the largest "
                     f"point share, a ranking, not a test; 95% CI): "
                     + "; ".join(said)
                     + (f"; seed-to-seed noise within cells explains {', '.join(seeds)}"
                        if seeds else "") + ".")
    return found


def fixed_settings(data):
    """'setting value, ...' per dataset for the settings in FIXED_SETTINGS that do not vary."""
    lines = []
    for dataset in data.datasets:
        configs = [c for c in data.configs.values() if c.get("dataset") == dataset]
        shown = []
        for key, name, show in FIXED_SETTINGS:
            values = {repr(c.get(key, "absent")) for c in configs}
            if len(values) != 1 or key not in configs[0]:
                continue
            value = configs[0][key]
            if key == "hidden":
                spec = DATASETS[dataset] if dataset in DATASETS else None
                inputs = int(np.prod(spec.image_shape)) if spec else "?"
                outputs = spec.n_classes if spec else "?"
                shown.append(f"{name} {'-'.join(map(str, [inputs, *value, outputs]))}")
            elif (text := show(value)) is not None:
                shown.append(f"{name} {text}")
        if shown:
            lines.append(f"{dataset}: {', '.join(shown)}")
    return lines


def findings(data):
    """Every finding of the report, in order."""
    found = (contrast_findings(data) + regime_findings(data) + importance_finding(data)
             + target_finding(data))
    fixed = fixed_settings(data)
    if fixed:
        found.append("These conclusions hold for the settings this grid held fixed: "
                     + "; ".join(fixed) + ".")
    return found
