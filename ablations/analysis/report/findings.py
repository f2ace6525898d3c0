"""The report's claims rendered: the first screen's verdict tables and the findings lines, each
cut from claims (claims.py) and their sentences (vocabulary.py), never computed here. A line
groups the claims of one factor, dataset and regime; a table row is one claim's fields.
"""

import json

import pandas as pd

from .claims import claims_of
from .contrasts import ALPHA
from .text import interval, md_table, number
from .vocabulary import short, supported


def ranked(claims):
    """Claims by the strength of their verdict (supported across settings, supported on
    average, the rest), then by the size of the estimate."""

    def strength(claim):
        if not supported(claim):
            return 2
        return 0 if claim["question"].startswith("would it hold") else 1

    return claims.assign(
        _rank=[strength(c) for _, c in claims.iterrows()], _size=-claims["estimate"].abs()
    ).sort_values(["_rank", "_size"], kind="stable")


def factor_order(data):
    return list(dict.fromkeys(f for r in data.regimes for f in data.contrasted(r)))


def where_words(dataset, regime):
    return dataset if not regime else f"{dataset} ({regime} regime)"


def contrast_findings(data):
    """One line per factor, dataset and regime: each level's claim, then the caveat claim."""
    claims, found = claims_of(data), []
    for factor in factor_order(data):
        for dataset in data.datasets:
            for regime in data.regimes:
                rows = claims.of("contrast", dataset=dataset, regime=regime, factor=factor)
                if not len(rows):
                    continue
                caveats = claims.of("caveat", dataset=dataset, regime=regime, factor=factor)
                found.append(
                    f"**{factor}** on {where_words(dataset, regime)}: "
                    + "; ".join(ranked(rows)["sentence"])
                    + "."
                    + "".join(f" {c}" for c in caveats["sentence"])
                )
    return found


def change_findings(data):
    """Each change of an effect between two regimes on their matched cells."""
    changes = claims_of(data).of("regime change")
    return [
        f"**Change between regimes**, {c['factor']} on {c['dataset']}: {c['sentence']}."
        for _, c in ranked(changes).iterrows()
    ]


def importance_findings(data):
    """Per regime, the largest variance share on each dataset (a ranking, not a test)."""
    claims, found = claims_of(data).of("importance"), []
    for regime in dict.fromkeys(claims["regime"]):
        mine = claims[claims["regime"] == regime]
        factors = json.loads(mine["detail"].iloc[0])["factors"]
        where = f", {regime} regime" if regime else ""
        found.append(
            f"**Factor importance**{where} (over {factors}; the largest point share, a ranking, "
            f"not a test; 95% CI): " + "; ".join(mine["sentence"]) + "."
        )
    return found


def target_findings(data):
    """Per regime, the factors whose levels differ in time to the validation target."""
    claims = claims_of(data).of("time to target")
    if not len(claims):
        return []
    rule = (
        f"Kruskal-Wallis across a factor's levels, a test of location by ranks, "
        f"{claims['family'].iloc[0]}; medians, a miss counted as never"
    )
    found = []
    for regime in data.regimes:
        mine = claims[claims["regime"] == (regime or "")]
        said = list(mine.loc[mine["verdict"] == "differ", "sentence"])
        body = (
            "; ".join(said) + "; no other factor's levels differ"
            if said
            else "no factor's levels differ in epochs or in seconds"
        )
        where = "" if regime is None else f", {regime} regime"
        found.append(f"**Time to the validation target**{where} ({rule}): {body}.")
    return found


def scope_findings(data):
    scope = claims_of(data).of("scope")
    if not len(scope):
        return []
    return [
        "These conclusions hold for the settings this grid held fixed: "
        + "; ".join(scope["sentence"])
        + "."
    ]


def findings(data):
    """Every finding of the report, in order."""
    return (
        contrast_findings(data)
        + change_findings(data)
        + importance_findings(data)
        + target_findings(data)
        + scope_findings(data)
    )


# ---- the first screen ----------------------------------------------------------------------


def verdict_table(data):
    """The first screen's table: one row per contrast claim (dataset, regime, factor, level
    against the baseline), its verdict in a few words, Δ with the interval of the question it
    answers, the cells beyond noise each way, and the cells that go the other way, named."""
    claims = claims_of(data).of("contrast")
    rows = [
        [
            c["dataset"],
            *([c["regime"]] if data.regimes != [None] else []),
            c["factor"],
            f"`{c['level']}` vs `{c['baseline']}`",
            short(c),
            number(c["estimate"]) + ("†" if c["below_test_se"] and supported(c) else ""),
            interval(c["ci_low"], c["ci_high"]),
            cells_text(c),
            c["cells_against"] or "",
        ]
        for _, c in claims.iterrows()
        if c["cells"] > 0
    ]
    columns = [
        "dataset",
        *(["regime"] if data.regimes != [None] else []),
        "factor",
        "level",
        "verdict",
        "Δ points",
        "95% CI",
        "cells beyond noise (with / against)",
        "the other way",
    ]
    return md_table(pd.DataFrame(rows, columns=columns))


def cells_text(claim):
    """'3 / 2 of 5': cells beyond seed noise with the estimate's sign / against it (each cell's
    own test, Holm within the contrast); '' for a claim on one cell."""
    if claim["cells"] <= 1:
        return ""
    return f"{claim['cells_beyond']} / {claim['cells_opposite']} of {claim['cells']}"


def change_table(data):
    """The first screen's table of changes between regimes: each change, its verdict, and the
    side that carries it."""
    claims = claims_of(data).of("regime change")
    rows = [
        [
            c["dataset"],
            c["factor"],
            f"`{c['level']}` vs `{c['baseline']}`",
            f"{c['from_regime']} → {c['regime']}",
            short(c),
            number(c["estimate"]),
            interval(c["ci_low"], c["ci_high"]),
            c["carried_by"] if supported(c) else "",
        ]
        for _, c in ranked(claims).iterrows()
    ]
    columns = ["dataset", "factor", "level", "regimes", "gap", "Δ points", "95% CI", "carried by"]
    return md_table(pd.DataFrame(rows, columns=columns))


def best_table(data):
    """The first screen's best configurations: per dataset and regime, on validation."""
    claims = claims_of(data).of("best")
    rows = []
    for _, c in claims.iterrows():
        found = json.loads(c["detail"])
        rows.append(
            [
                c["dataset"],
                *([c["regime"]] if data.regimes != [None] else []),
                f"`{c['level']}`",
                f"{found['val']:.2f}",
                c["verdict"],
                tied_names(found["tied"]),
                number(c["estimate"]),
                interval(c["ci_low"], c["ci_high"]),
                f"{found['test_mean']:.2f} (sd {number(found['test_sd'], '.2f')}, {found['seeds']} seeds)",
                f"the only {found['only_cell']} cell at this budget" if found["only_cell"] else "",
            ]
        )
    columns = [
        "dataset",
        *(["regime"] if data.regimes != [None] else []),
        "best on validation",
        "val acc %",
        "verdict",
        "tied with (within seed noise)",
        "lead (val points)",
        "95% CI",
        "test acc %",
        "note",
    ]
    return md_table(pd.DataFrame(rows, columns=columns))


def tied_names(tied, shown=3):
    """'`a`, `b`, `c` and 2 more' from the claims' ' | '-joined tied configurations."""
    names = [t for t in tied.split(" | ") if t]
    more = len(names) - shown
    return ", ".join(f"`{t}`" for t in names[:shown]) + (f" and {more} more" if more > 0 else "")


def family_text(family):
    """What Holm's family is, in one sentence."""
    if not len(family):
        return "No level has runs paired with its baseline: there is nothing to test."
    over = family["p"].notna()
    across = family["across_p"].notna()
    changes = int((family["kind"] == "change").sum())
    what = f"{int((family['kind'] == 'contrast').sum())} contrasts" + (
        f" and {changes} changes between regimes" if changes else ""
    )
    return (
        f"Holm's family is every test the report can claim from, "
        f"{int(family['family_size'].iloc[0])} in all, over {what}: the over-these-settings "
        f"test of the {int(over.sum())} with seed noise to test against, and the "
        f"across-settings test of the {int(across.sum())} whose cells form a complete crossed "
        f"table (a random-effects test over the other factors' levels). A claim needs Holm p "
        f"< {ALPHA}; a minimum detectable effect (MDE) is the true effect that test detects "
        f"with 80% power at Holm's first threshold, {family['threshold'].iloc[0]:.2g} (the "
        f"rule in use, Holm's step-down, has at least that power)."
    )


def importance_groups(data):
    """{(regime, factors): {dataset: Importance}}: the sub-designs of data.importance that
    share one regime and one set of factors (one table each)."""
    groups = {}
    for (regime, dataset), found in data.importance.items():
        groups.setdefault((regime, found.factors), {})[dataset] = found
    return groups
