"""Findings in plain words, computed from the contrast family (contrasts.py) and the variance
decomposition. Each finding names the question it answers: "across settings" only where the
test over cells survives Holm; "on average over these settings, in k of K cells" where only the
fixed-cells test does, naming the cells the effect lives in; "not distinguishable: effects
smaller than X could go undetected" where neither did; "this design cannot test it" where no
outcome could have passed the rule. A change between regimes is the difference of the effect on
matched cells, never a difference in significance.
"""

import numpy as np

from ablations.data.datasets import DATASETS
from ..stats.factorial import HIGHER_ORDER, WITHIN
from .columns import POINTS, REGIME, SPLIT
from .contrasts import ACROSS, ALPHA, AVERAGE, NONE, UNTESTABLE, claim_mde, in_family
from .protocol import shared_lr_check, shared_lr_sentence
from .targets import target_finding
from .text import interval, p_clause

# The settings held fixed across a grid that every conclusion depends on: (config key, name,
# how to print it, None: not worth a mention). A key that varies within a dataset, or is absent,
# is not listed.
INPUTS = {
    "none": "scaled to [0, 1]",
    "global": "one global mean and std",
    "per_pixel": "standardized per pixel",
}
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
NAMED_CELLS = 3  # cells an effect is said to be concentrated in, at most, by name


def direction(row):
    return "beats" if row["delta"] > 0 else "trails"


def beyond_noise(row):
    """(agree, against): the (name, cell) pairs whose own seed-noise interval lies wholly on
    the side of the effect's sign, largest first, and those wholly on the other side."""
    cells = list(zip(row["cell_names"], row["per_cell"]))
    sign = np.sign(row["delta"])
    agree = sorted(
        (c for c in cells if sign * c[1][3] > 0 and sign * c[1][4] > 0), key=lambda c: -abs(c[1][2])
    )
    against = [c for c in cells if -sign * c[1][3] > 0 and -sign * c[1][4] > 0]
    return agree, against


def named(row, group):
    """'optimizer / regularization: adamw / dropout (+0.38), ... and 5 more'."""
    shown = [f"{name} ({cell[2]:+.2f})" for name, cell in group[:NAMED_CELLS]]
    more = len(group) - NAMED_CELLS
    return (
        (f"{row['cell_factors']}: " if row["cell_factors"] else "")
        + ", ".join(shown)
        + (f" and {more} more" if more > 0 else "")
    )


def where_it_lives(row):
    """', beyond seed noise in k of K cells; concentrated in <cells>; reversed in <cells>'
    (the cells whose own seed-noise interval excludes 0, largest first)."""
    agree, against = beyond_noise(row)
    k = int(row["cells"])
    text = f", beyond seed noise in {len(agree)} of {k} cells"
    if agree and len(agree) <= k // 2:
        text += f"; concentrated in {named(row, agree)}"
    if against:
        text += f"; reversed in {named(row, against)}"
    return text


def across_untestable(row):
    """Whether no outcome over this contrast's cells could pass Holm's first threshold."""
    return int(row["cells"]) < 2 or row["across_p_floor"] > row["threshold"]


def across_clause(row):
    """What the across-settings question got, where the claim is over these settings only."""
    k, needed = int(row["cells"]), int(row["cells_needed"])
    if across_untestable(row):
        return (
            f"across settings this design cannot test it ({k} cell{'s' * (k != 1)}; an "
            f"exact test over cells needs {needed} to reach Holm's threshold)"
        )
    return (
        f"across settings not shown (sign-flip over {k} cells, "
        f"{p_clause('Holm p', row['across_p_holm'])})"
    )


def sentence(clause, levels):
    """The across-settings clause said once for a whole line of `levels` levels."""
    if levels > 1:
        clause = clause.replace("cannot test it", "cannot test them")
    return "A" + clause[1:] + "."


def untestable_reason(row):
    k, needed = int(row["cells"]), int(row["cells_needed"])
    return (
        f"one seed per cell leaves no seed noise to test against, and {k} "
        f"cell{'s' * (k != 1)} cannot reach Holm's threshold: it would need 2 seeds per "
        f"cell or {needed} cells"
    )


def level_phrase(row, across=True):
    """One contrast (or one change between regimes) in words, with the numbers of the test
    behind its verdict; `row` a row of the contrast family. across=False leaves out what the
    across-settings question got (said once for a line of levels that share it)."""
    level, base, k = f"`{row['level']}`", f"`{row['baseline']}`", int(row["cells"])
    if row["kind"] == "change":
        subject = (
            f"the effect of {level} over {base} is {abs(row['delta']):.2f} points "
            f"{'larger' if row['delta'] > 0 else 'smaller'} in {row[REGIME]} than in "
            f"{row['from_regime']}"
        )
    else:
        subject = f"{level} {direction(row)} {base} by {row['delta']:+.2f} points"
    verdict = row["verdict"]
    if verdict == ACROSS:
        return (
            f"{subject} across settings (95% CI over cells "
            f"{interval(row['across_ci_low'], row['across_ci_high'])}, "
            f"{p_clause('Holm p', row['holm_p'])}{where_it_lives(row)})"
        )
    if verdict == AVERAGE:
        scope = "in its one setting" if k == 1 else "on average over these settings"
        return (
            f"{subject} {scope} (95% CI {interval(row['ci_low'], row['ci_high'])}, "
            f"{p_clause('Holm p', row['holm_p'])}"
            f"{where_it_lives(row) if k > 1 else ''})"
            + (f"; {across_clause(row)}" if across else "")
        )
    if verdict == NONE:
        shown = (
            (
                f"no change shown in the effect of {level} over {base} from "
                f"{row['from_regime']} to {row[REGIME]}"
            )
            if row["kind"] == "change"
            else f"{level} is not distinguishable from {base}"
        )
        return (
            f"{shown} ({row['delta']:+.2f} points, 95% CI "
            f"{interval(row['ci_low'], row['ci_high'])}, "
            f"{p_clause('Holm p', row['holm_p'])}): effects smaller than "
            f"{claim_mde(row):.2f} points could go undetected"
        )
    return f"{level} against {base}: this design cannot test it ({untestable_reason(row)})"


def short_phrase(row):
    """One contrast in a few words, for the first screen."""
    level, k = f"`{row['level']}`", int(row["cells"])
    verdict = row["verdict"]
    if verdict == ACROSS:
        return f"{level} {row['delta']:+.2f} across settings"
    if verdict == AVERAGE:
        scope = (
            "in its one setting"
            if k == 1
            else f"on average ({len(beyond_noise(row)[0])} of {k} cells beyond noise)"
        )
        return f"{level} {row['delta']:+.2f} {scope}"
    if verdict == NONE:
        return f"{level} not distinguishable (MDE {claim_mde(row):.2f})"
    return f"{level} cannot be tested"


def shared_tuning(data, regime, factor):
    """The tuned settings a factor's levels share in `regime` (tuned at its first level), e.g.
    ['lr'], from the grid's tuning summary; [] where each level was tuned for itself."""
    if not data.tuning:
        return []
    cells = [c for c in data.tuning["cells"] if regime is None or c["cell"].get(REGIME) == regime]
    return sorted(
        {k for c in cells if factor in c.get("shared_over", ()) for k in (c["selected"] or {})}
    )


def caveat(data, regime, factor):
    """The caveat on a factor whose levels share a tuned setting, with what the shared-lr
    check (protocol.shared_lr_check) measured where it applies."""
    shared = shared_tuning(data, regime, factor)
    if not shared:
        return ""
    text = (
        f" Caveat: {', '.join(shared)} was tuned at `{data.levels_in(factor, regime)[0]}` "
        f"and shared by every {factor} level, so a level that wants another value is "
        f"judged at its baseline's."
    )
    check = shared_lr_check(data) if shared == ["lr"] else None
    if check is not None and len(check) and factor in check.columns:
        text += (
            f" Measured (*Does the shared lr cost the regularizers?*): {shared_lr_sentence(check)}"
        )
    return text


def contrast_findings(data):
    """One line per factor, dataset and regime: each level against the baseline, in words."""
    found = []
    for factor in factor_order(data):
        for dataset in data.datasets:
            for regime in data.regimes:
                rows = in_family(data.contrasts, dataset, regime, factor)
                if not len(rows):
                    continue
                paired = rows[rows["pairs"] > 0]
                unpaired = [
                    f"no runs pair `{r['level']}` with the baseline `{r['baseline']}` "
                    f"(they differ in other settings too), so no effect is estimated"
                    for _, r in rows[rows["pairs"] == 0].iterrows()
                ]
                average = paired[paired["verdict"] == AVERAGE]
                clauses = {across_clause(r) for _, r in average.iterrows()}
                once = len(clauses) == 1 and all(
                    across_untestable(r) for _, r in average.iterrows()
                )
                phrases = [
                    level_phrase(r, across=not once) for _, r in ranked(paired).iterrows()
                ] + unpaired
                where = dataset if regime is None else f"{dataset} ({regime} regime)"
                found.append(
                    f"**{factor}** on {where}: "
                    + "; ".join(phrases)
                    + "."
                    + (f" {sentence(next(iter(clauses)), len(average))}" if once else "")
                    + caveat(data, regime, factor)
                )
    return found


VERDICT_ORDER = {ACROSS: 0, AVERAGE: 1, NONE: 2, UNTESTABLE: 3}


def ranked(rows):
    """Rows by the strength of their verdict, then by the size of the effect."""
    return (
        rows.assign(_rank=rows["verdict"].map(VERDICT_ORDER), _size=-rows["delta"].abs())
        .sort_values(["_rank", "_size"], kind="stable")
        .drop(columns=["_rank", "_size"])
    )


def factor_order(data):
    return list(dict.fromkeys(f for r in data.regimes for f in data.contrasted(r)))


def regime_findings(data):
    """Each change of an effect between two regimes on their matched cells, in words."""
    changes = data.contrasts[data.contrasts["kind"] == "change"]
    return [
        f"**Change between regimes**, {r['factor']} on {r[SPLIT]}: {level_phrase(r)}."
        for _, r in ranked(changes).iterrows()
    ]


def verdict_lines(data):
    """The first screen: per dataset and regime, every factor's levels in a few words; per
    dataset, the changes between regimes that the rule supports."""
    family, lines = data.contrasts, []
    for dataset in data.datasets:
        for regime in data.regimes:
            parts = []
            for factor in data.contrasted(regime):
                rows = in_family(family, dataset, regime, factor)
                rows = rows[rows["pairs"] > 0]
                if len(rows):
                    shared = shared_tuning(data, regime, factor)
                    note = (
                        f" ({', '.join(shared)} tuned at `{rows['baseline'].iloc[0]}` and shared)"
                        if shared
                        else ""
                    )
                    parts.append(
                        f"{factor} vs `{rows['baseline'].iloc[0]}`{note}: "
                        + ", ".join(short_phrase(r) for _, r in ranked(rows).iterrows())
                    )
            if parts:
                where = dataset if regime is None else f"{dataset}, {regime}"
                lines.append(f"**{where}**: " + "; ".join(parts))
        changes = family[(family["kind"] == "change") & (family[SPLIT] == dataset)]
        if len(changes):
            shown = ranked(changes[changes["significant"]])
            listed = ", ".join(
                f"{r['factor']} `{r['level']}` {r['delta']:+.2f} ({r['from_regime']} → {r[REGIME]})"
                for _, r in shown.iterrows()
            )
            lines.append(
                f"**{dataset}, changes between regimes** (the effect's difference on "
                f"matched cells): {len(shown)} of {len(changes)} supported"
                + (f": {listed}" if listed else "")
            )
    return lines


def family_text(family):
    """What Holm's family is, in one sentence."""
    if not len(family):
        return "No level has runs paired with its baseline: there is nothing to test."
    over = family["p"].notna()
    across = family["across_p_floor"] < ALPHA
    changes = int((family["kind"] == "change").sum())
    what = f"{int((family['kind'] == 'contrast').sum())} contrasts" + (
        f" and {changes} changes between regimes" if changes else ""
    )
    return (
        f"Holm's family is every test the report can claim from, "
        f"{int(family['family_size'].iloc[0])} in all, over {what}: the over-these-settings "
        f"test of the {int(over.sum())} with seed noise to test against, and the "
        f"across-settings test of the {int(across.sum())} with enough cells to reach "
        f"p < {ALPHA} at all (an exact test over k cells cannot go below 2/2^k). A claim "
        f"needs Holm p < {ALPHA}; a minimum detectable effect (MDE) is the true effect that "
        f"test detects with 80% power at Holm's first threshold, "
        f"{family['threshold'].iloc[0]:.2g}."
    )


def design_words(found):
    """How a sub-design's finished runs fill its cells (`found` a frame.Importance), and what
    that makes of its shares."""
    balance = found.balance
    if found.planned < balance.cells:
        return (
            f"the grid does not cross these factors fully, {found.planned} of "
            f"{balance.cells} combinations: not decomposed"
        )
    if balance.balanced:
        runs = f"{balance.runs_min} run{'s' * (balance.runs_min != 1)}"
        return f"balanced ({runs} in each of {balance.cells} cells): exact"
    if balance.complete:
        return (
            f"unbalanced ({balance.runs_min} to {balance.runs_max} runs in each of "
            f"{balance.cells} cells): unweighted means, an approximation"
        )
    return (
        f"{balance.cells - balance.filled} of {balance.cells} cells without a finished run: "
        f"not decomposed"
    )


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
            top = max(
                (s for s in shares if s not in (HIGHER_ORDER, WITHIN)), key=lambda s: shares[s][0]
            )
            share, low, high = (POINTS * v for v in shares[top])
            higher = shares.get(HIGHER_ORDER, (0.0,))[0]
            above = (
                f"; the higher-order interactions explain more, {POINTS * higher:.0f}%"
                if higher > shares[top][0]
                else ""
            )
            said.append(
                f"`{top}` on {dataset}, {share:.0f}% {interval(low, high, '.0f')} ({exact}{above})"
            )
            seeds.append(f"{dataset} {POINTS * shares[WITHIN][0]:.0f}%")
        where = "" if regime is None else f", {regime} regime"
        found.append(
            f"**Factor importance**{where} (over {', '.join(factors)}; the largest "
            f"point share, a ranking, not a test; 95% CI): "
            + "; ".join(said)
            + (f"; seed-to-seed noise within cells explains {', '.join(seeds)}" if seeds else "")
            + "."
        )
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
    found = (
        contrast_findings(data)
        + regime_findings(data)
        + importance_finding(data)
        + target_finding(data)
    )
    fixed = fixed_settings(data)
    if fixed:
        found.append(
            "These conclusions hold for the settings this grid held fixed: "
            + "; ".join(fixed)
            + "."
        )
    return found
