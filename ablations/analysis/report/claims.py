"""The report's claims: every statement it makes, as data, computed before any words.

A claim is one row of CLAIM_COLUMNS (the table below is the one definition: the claims CSV,
`reports/<grid>_claims.csv`, and every reader derive from it, as records/schema.py does for
runs). Builders here are pure: each turns the report's data (the contrast family of
contrasts.py, the best configurations on validation, the variance decomposition, the
time-to-target tests, the tuning protocol) into claims; vocabulary.py turns a claim into the
words the report prints (its `sentence`), from the claim's own fields only. Sections then
render claims and never decide a verdict themselves.

Kinds (KINDS): `contrast` (a level against its factor's baseline in one dataset and regime),
`regime change` (that contrast's change between two regimes; `carried_by` says which side
moved), `best` (the best configuration on validation within one dataset and regime, or a tie),
`importance` (the largest variance share: a ranking, not a test), `time to target` (a
Kruskal-Wallis test across a factor's levels), `never acted` (a level whose every paired run is
its baseline's to the bit: a constraint that never bound), `caveat` and `scope` (what a claim's
measurement did and did not cover).
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats.aggregates import binomial_se
from ..stats.cells import t_p
from ..stats.factorial import HIGHER_ORDER, WITHIN
from ..stats.paired import holm, mean_ci
from .columns import POINTS, REGIME, REPLICATE, SPLIT
from .contrasts import ACROSS, ALPHA, AVERAGE, claim_mde, family_frames, run_columns, runs_in
from .protocol import shared_lr_check
from .targets import target_tests
from . import vocabulary

# The claims table, one definition: (column, what it holds). Order is the CSV's.
CLAIM_COLUMNS = {
    "id": "stable id: kind/dataset/regime/factor/level (a change: from_regime>regime)",
    "kind": "contrast, regime change, best, importance, time to target, never acted, caveat, scope",
    "dataset": "the dataset it is about ('' for every dataset)",
    "regime": "its regime (a change: the later one; '' without a regime axis)",
    "from_regime": "a change's earlier regime",
    "factor": "the factor it is about",
    "level": "the level (best: the configuration, levels joined by ' / ')",
    "baseline": "what the level is compared with (best: the runner-up on validation)",
    "question": "the question the claim answers",
    "estimate": "the number claimed, in `unit`",
    "unit": "points of test accuracy, points of validation accuracy, share %, ...",
    "ci_low": "95% interval of the estimate, low end",
    "ci_high": "... high end",
    "interval": "the model of that interval",
    "test": "the test behind the verdict",
    "p": "its p-value",
    "holm_p": "its Holm-adjusted p in `family`",
    "family": "the Holm family it is adjusted in",
    "companion_test": "the distribution-free companion of the test",
    "companion_holm_p": "the companion's Holm p in the same family (nan: none)",
    "verdict": "the verdict (vocabulary.VERDICTS)",
    "normal_only": "whether only the normal-theory test supports the verdict",
    "carried_by": "a change: level, baseline or both (which side's own change it is)",
    "cells": "cells (settings of the other factors) the estimate averages over",
    "cells_beyond": "cells beyond seed noise in the estimate's direction (Holm within it)",
    "cells_for": "those cells named, with their means, where the effect is concentrated",
    "cells_opposite": "cells beyond seed noise in the other direction (Holm within it)",
    "cells_against": "those cells named, with their means",
    "mde": "effect the claim's test detects with 80% power at Holm's first threshold",
    "below_test_se": "whether |estimate| is below the test-set SE",
    "detail": "the numbers a sentence needs beyond the above (kind-specific, a JSON object)",
    "caveats": "caveats scoped to this claim",
    "run_ids": "the runs it rests on, space-separated",
    "sentence": "the words the report prints for it",
}
CSV_FLOATS = "%.8g"  # the claims CSV's numbers: 8 significant digits (Claims.csv)
KINDS = (
    "contrast",
    "regime change",
    "best",
    "importance",
    "time to target",
    "never acted",
    "caveat",
    "scope",
)


@dataclass(frozen=True)
class Claims:
    """The report's claims (one DataFrame of CLAIM_COLUMNS) and lookups by kind."""

    table: pd.DataFrame

    def of(self, kind, **where):
        """The claims of one kind whose columns equal `where` (None and nan match '')."""
        rows = self.table[self.table["kind"] == kind]
        for column, value in where.items():
            rows = rows[rows[column] == blank(value)]
        return rows

    def of_row(self, row):
        """The claim of one contrast-family row (contrasts.contrast_family), looked up by its
        kind, dataset, regimes, factor and level in an index built once."""
        if not hasattr(self, "_by_row"):
            rows = self.table[self.table["kind"].isin(["contrast", "regime change"])]
            keys = rows[["kind", "dataset", "regime", "from_regime", "factor", "level"]]
            object.__setattr__(
                self, "_by_row", {tuple(k): i for k, i in zip(keys.to_numpy(), rows.index)}
            )
        kind = "regime change" if row["kind"] == "change" else "contrast"
        key = (kind, row[SPLIT], blank(row[REGIME]), blank(row["from_regime"]))
        return self.table.loc[self._by_row[(*key, row["factor"], row["level"])]]

    def csv(self):
        """The table as CSV, numbers as CSV_FLOATS formats them: a bootstrap's last bits
        differ between CPUs (BLAS kernels), and `make run` on a fresh clone must leave the
        committed reports as they are."""
        return self.table[list(CLAIM_COLUMNS)].to_csv(index=False, float_format=CSV_FLOATS)


def claims_of(data):
    """The Claims of `data`, computed once per report."""
    if "claims" not in data.memo:
        rows = [
            *contrast_claims(data),
            *best_claims(data),
            *importance_claims(data),
            *target_claims(data),
            *never_acted_claims(data),
            *caveat_claims(data),
            *scope_claims(data),
        ]
        table = pd.DataFrame([complete(r) for r in rows], columns=list(CLAIM_COLUMNS))
        table["sentence"] = [vocabulary.sentence(r) for _, r in table.iterrows()]
        data.memo["claims"] = Claims(table)
    return data.memo["claims"]


DEFAULTS = {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
DEFAULTS |= {"holm_p": np.nan, "companion_holm_p": np.nan, "mde": np.nan, "cells": 0}
DEFAULTS |= {"cells_beyond": 0, "cells_opposite": 0, "normal_only": False, "below_test_se": False}


def complete(row):
    """A claim dict with every column: numbers nan or 0 where unset, text ''."""
    return {c: row.get(c, DEFAULTS.get(c, "")) for c in CLAIM_COLUMNS}


def blank(value):
    """'' for a missing label (None or nan), else the value."""
    return "" if value is None or value != value else value


def claim_id(*parts):
    return "/".join("" if p is None else str(p) for p in parts)


def details(**values):
    """The `detail` column: the values as a JSON object, in the order given (vocabulary reads
    it back with json.loads)."""
    return json.dumps(values, allow_nan=True)


# ---- contrasts and changes between regimes -------------------------------------------------

QUESTIONS = {
    ACROSS: "would it hold for other settings of the other factors? (cells as random draws)",
    AVERAGE: "is it nonzero on average over these cells? (cells fixed, seed noise random)",
    "one setting": "is it nonzero in this one setting? (seed noise random)",
}
NAMED_CELLS = 3  # cells named, at most, where an effect is concentrated or reversed


def cells_named(row, cells):
    """'activation: sigmoid (+2.43), tanh (+0.99) and 2 more' for (name, per_cell) pairs."""
    shown = [f"{name} ({cell[2]:+.2f})" for name, cell in cells[:NAMED_CELLS]]
    more = len(cells) - NAMED_CELLS
    head = f"{row['cell_factors']}: " if row["cell_factors"] else ""
    return head + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def beyond_noise(row):
    """(agree, against): the (name, cell) pairs beyond seed noise (each cell's own test, Holm
    over the contrast's cells) on the side of the estimate's sign, largest first, and those on
    the other side, largest first."""
    cells = [c for c in zip(row["cell_names"], row["per_cell"]) if c[1][5] < ALPHA]
    sign = np.sign(row["delta"])
    agree = sorted((c for c in cells if sign * c[1][2] > 0), key=lambda c: -abs(c[1][2]))
    against = sorted((c for c in cells if sign * c[1][2] < 0), key=lambda c: -abs(c[1][2]))
    return agree, against


def question_of(row):
    if row["verdict"] == ACROSS:
        return ACROSS
    return "one setting" if int(row["cells"]) == 1 else AVERAGE


def test_words(row, question):
    """(interval model, test, companion) of the question a contrast row's claim answers."""
    if question == ACROSS:
        return row["across_model"], f"t, {row['across_model']}", "sign-flip over the cell means"
    return row["model"], f"t, {row['model']}", "studentized sign-flip over the pairs"


def contrast_claims(data):
    """One claim per contrast and change of the family (contrasts.contrast_family)."""
    family, claims = data.contrasts, []
    test_se = test_set_se(data)
    for _, r in family.iterrows():
        change = r["kind"] == "change"
        question = question_of(r)
        across = question == ACROSS
        agree, against = beyond_noise(r)
        model, test, companion = test_words(r, question)
        companion_p = r["across_signflip_holm"] if across else r["signflip_holm"]
        if not np.isfinite(r["across_p_signflip"] if across else r["p_signflip"]):
            companion_p = np.nan  # the design has no companion (it counted at p = 1 in Holm)
        supported = r["verdict"] in (ACROSS, AVERAGE)
        kind = "regime change" if change else "contrast"
        claims.append(
            {
                "id": claim_id(
                    kind,
                    r[SPLIT],
                    f"{r['from_regime']}>{r[REGIME]}" if change else r[REGIME],
                    r["factor"],
                    r["level"],
                ),
                "kind": kind,
                "dataset": r[SPLIT],
                "regime": blank(r[REGIME]),
                "from_regime": blank(r["from_regime"]),
                "factor": r["factor"],
                "level": r["level"],
                "baseline": r["baseline"],
                "question": QUESTIONS[question],
                "estimate": r["delta"],
                "unit": "points of test accuracy",
                "ci_low": r["across_ci_low"] if across else r["ci_low"],
                "ci_high": r["across_ci_high"] if across else r["ci_high"],
                "interval": model,
                "test": test,
                "p": r["across_p"] if across else r["p"],
                "holm_p": r["holm_p"],
                "family": f"Holm over the report's {int(r['family_size'])} contrast tests",
                "companion_test": companion if np.isfinite(companion_p) else "",
                "companion_holm_p": companion_p,
                "verdict": vocabulary.verdict_of(r, change),
                "normal_only": bool(supported and not companion_p < ALPHA),
                "carried_by": blank(r["carried_by"]),
                "cells": int(r["cells"]),
                "cells_beyond": len(agree),
                "cells_opposite": len(against),
                "cells_for": cells_named(r, agree)
                if agree and len(agree) <= int(r["cells"]) // 2
                else "",
                "cells_against": cells_named(r, against) if against else "",
                "mde": claim_mde(r),
                "below_test_se": bool(abs(r["delta"]) < test_se.get(r[SPLIT], 0.0)),
                "detail": change_detail(r) if change else across_detail(r),
                "run_ids": " ".join(r["run_ids"]),
            }
        )
    return claims


def across_values(row):
    """What the across-settings question got where the claim is over these settings only."""
    return {
        "across_holm_p": float(row["across_p_holm"]),
        "across_model": row["across_model"],
        "levels_needed": row["levels_needed"],
        "pairs": int(row["pairs"]),
    }


def across_detail(row):
    return details(**across_values(row), reason=untestable_reason(row))


def untestable_reason(row):
    """Why neither question can be asked of a contrast ('' where one can)."""
    if row["pairs"] == 0:
        return (
            f"no runs pair `{row['level']}` with the baseline `{row['baseline']}`: they differ "
            f"in other settings too, so no effect is estimated"
        )
    if np.isfinite(row["mde"]) or np.isfinite(row["across_mde"]):
        return ""
    return (
        f"one seed per cell leaves no seed noise to test against, and across settings: "
        f"{row['across_model']}"
    )


def change_detail(row):
    """A change's two sides: each one's own change (later regime minus earlier), its 95%
    interval, and the share of its pairs whose runs are the same records in both regimes."""
    sides = row["sides"]
    words = {}
    for side, name in (("level", row["level"]), ("base", row["baseline"])):
        found = sides[side]
        agree = [
            (n, c) for n, c in zip(row["cell_names"], found.per_cell) if c[5] < ALPHA and c[2] != 0
        ]
        agree.sort(key=lambda c: -abs(c[1][2]))
        words |= {
            f"{side}_name": name,
            f"{side}_change": float(found.delta),
            f"{side}_low": float(found.ci_low),
            f"{side}_high": float(found.ci_high),
            f"{side}_same": float(row["same"][side]),
            f"{side}_cells": cells_named(row, agree) if agree else "",
        }
    return details(**words, **across_values(row))


def test_set_se(data):
    """{dataset: the test-set SE in points at the dataset's mean test accuracy}."""
    return {
        d: POINTS * binomial_se(part["test_acc"].mean(), part["n_test"].max())
        for d in data.datasets
        for part in [data.ok_on(d)]
        if len(part) and "n_test" in part.columns
    }


# ---- best configuration on validation ------------------------------------------------------


def budget_factors(data, regime):
    """The factors that vary somewhere in the grid but have one level in `regime`: a winner
    there is the only cell of those factors trained at that budget."""
    if regime is None:
        return []
    return [
        f
        for f in data.factors
        if f != REGIME and len(data.levels(f)) > 1 and len(data.levels_in(f, regime)) == 1
    ]


def best_claims(data):
    """Per dataset and regime, the configuration with the best mean final validation accuracy
    (on the dataset's largest validation set), its lead over the runner-up as a paired t
    interval over the seeds they share (validation points), and every configuration whose
    paired interval against it holds 0: with any, the claim is a tie naming them. Holm over the
    report's best-configuration leads."""
    claims = []
    for dataset in data.datasets:
        part = data.ok_on(dataset)
        if part.empty:
            continue
        part = part[part["n_val"] == part["n_val"].max()]
        for regime in data.regimes:
            mine = data.in_regime(part, regime)
            if mine.empty:
                continue
            claims.append(best_claim(data, dataset, regime, mine))
    if claims:
        adjusted = holm(np.array([c["p"] for c in claims], float))
        for claim, p in zip(claims, adjusted):
            claim["holm_p"] = p
            claim["family"] = f"Holm over the report's {len(claims)} best-configuration leads"
    return claims


def config_name(data, config):
    return " / ".join(str(config[f]) for f in data.factors if f != REGIME)


def best_claim(data, dataset, regime, runs):
    """The best-configuration claim of one dataset and regime (`runs` its finished runs)."""
    ranked = data.config_means(runs).sort_values("val_acc_mean", ascending=False, kind="stable")
    best = ranked.iloc[0]
    names = runs[[f for f in data.factors if f != REGIME]].astype(str).agg(" / ".join, axis=1)
    by_seed = runs.assign(name=names).pivot_table(
        index=REPLICATE, columns="name", values="final_val_acc", aggfunc="first"
    )
    best_runs = data.runs_of(runs, best).set_index(REPLICATE)
    leads = []
    for _, other in ranked.iloc[1:].iterrows():
        paired = (by_seed[config_name(data, best)] - by_seed[config_name(data, other)]).dropna()
        mean, half, n = mean_ci(POINTS * paired)
        leads.append((other, mean, half, n))
    tied = [config_name(data, o) for o, mean, half, n in leads if not mean - half > 0]
    lead = leads[0] if leads else None
    mean, half, n = lead[1:] if lead else (np.nan, np.nan, 0)
    se = half / stdtrit_975(n) if n > 1 else np.nan
    test_acc = best_runs["test_acc"] * POINTS
    only = budget_factors(data, regime)
    verdict = (
        "only one configuration"
        if not leads
        else "lead not tested"
        if not n > 1
        else "tie"
        if tied
        else "best"
    )
    return {
        "id": claim_id("best", dataset, regime, "", ""),
        "kind": "best",
        "dataset": dataset,
        "regime": regime or "",
        "factor": " x ".join(f for f in data.factors if f != REGIME),
        "level": config_name(data, best),
        "baseline": config_name(data, lead[0]) if lead else "",
        "question": "which configuration has the best validation accuracy at this budget?",
        "estimate": mean,
        "unit": "points of validation accuracy (lead over the runner-up)",
        "ci_low": mean - half,
        "ci_high": mean + half,
        "interval": f"paired t over the {n} seeds both have",
        "test": "paired t of the lead over the runner-up",
        "p": t_p(mean, se, n - 1) if n > 1 else np.nan,
        "verdict": verdict,
        "detail": details(
            val=float(POINTS * best["val_acc_mean"]),
            test_mean=float(test_acc.mean()),
            test_sd=float(test_acc.std(ddof=1)) if len(test_acc) > 1 else float("nan"),
            seeds=len(test_acc),
            tied=" | ".join(tied),
            configurations=len(ranked),
            only_cell=" x ".join(only),
        ),
        "run_ids": " ".join(
            sorted(set(best_runs["run_id"]) | set(data.runs_of(runs, lead[0])["run_id"]))
            if lead
            else sorted(best_runs["run_id"])
        ),
    }


def stdtrit_975(n):
    """The t quantile behind mean_ci's 95% half-width on n - 1 df (to get back the SE)."""
    from scipy.special import stdtrit

    return float(stdtrit(n - 1, 0.975))


# ---- factor importance, time to target -----------------------------------------------------


def importance_claims(data):
    """Per regime and dataset, the source with the largest share of test-accuracy variance (a
    ranking of point shares, not a test), with its BCa interval, and the seed share."""
    claims = []
    for (regime, dataset), found in data.importance.items():
        shares = found.shares
        if not shares:
            claims.append(
                {
                    "id": claim_id("importance", dataset, regime, "", ""),
                    "kind": "importance",
                    "dataset": dataset,
                    "regime": regime or "",
                    "question": "which factor's levels move test accuracy most here?",
                    "verdict": "not decomposed",
                    "detail": details(
                        design=vocabulary.design_words(found), factors=", ".join(found.factors)
                    ),
                }
            )
            continue
        top = max(
            (s for s in shares if s not in (HIGHER_ORDER, WITHIN)), key=lambda s: shares[s][0]
        )
        share, low, high = (POINTS * v for v in shares[top])
        claims.append(
            {
                "id": claim_id("importance", dataset, regime, top, ""),
                "kind": "importance",
                "dataset": dataset,
                "regime": regime or "",
                "factor": top,
                "question": "which factor's levels move test accuracy most here?",
                "estimate": share,
                "unit": "% of the variance of test accuracy",
                "ci_low": low,
                "ci_high": high,
                "interval": "BCa, stratified bootstrap (seeds resampled within cells)",
                "test": "none: a ranking of point shares",
                "verdict": "largest share",
                "detail": details(
                    design="exact" if found.balance.balanced else "approximate: unbalanced",
                    higher=float(POINTS * shares.get(HIGHER_ORDER, (0.0,))[0]),
                    seeds=float(POINTS * shares[WITHIN][0]),
                    factors=", ".join(found.factors),
                ),
            }
        )
    return claims


def target_claims(data):
    """One claim per time-to-target test (targets.target_tests) that has a p-value."""
    tests, claims = target_tests(data), []
    for _, r in tests[tests["p"].notna()].iterrows():
        medians = r["medians"]
        lowest = min(medians.values())
        claims.append(
            {
                "id": claim_id("time to target", r[SPLIT], r[REGIME], r["factor"], r["unit"]),
                "kind": "time to target",
                "dataset": r[SPLIT],
                "regime": r[REGIME] or "",
                "factor": r["factor"],
                "level": " | ".join(str(k) for k, m in medians.items() if m == lowest),
                "question": f"do the levels differ in {r['unit']} to the validation target?",
                "estimate": lowest,
                "unit": r["unit"],
                "test": "Kruskal-Wallis across the levels (location, by ranks)",
                "p": r["p"],
                "holm_p": r["p_holm"],
                "family": f"Holm over the report's {int(tests['p'].notna().sum())} such tests",
                "verdict": "differ" if r["p_holm"] < ALPHA else "not distinguishable",
                "detail": details(
                    medians={str(k): float(m) for k, m in medians.items()},
                ),
            }
        )
    return claims


# ---- levels that never acted ---------------------------------------------------------------


def same_result(first, second):
    """Whether two records hold the same test accuracy and the same history, bit for bit, the
    measured times (history keys ending in `_s`) aside."""

    def measured(record):
        history = {k: v for k, v in record["history"].items() if not k.endswith("_s")}
        return record["test_acc"], history

    return measured(first) == measured(second)


def never_acted_claims(data):
    """One claim per contrast (contrasts.family_frames) whose level never changed a run: it has
    pairs, and in every pair the level's run and the baseline's have the same test accuracy
    and history (`same_result`): a max-norm that never bound, a clip above every gradient's
    norm. Its contrast is 0 by construction and measures nothing about the component."""
    claims = []
    for kind, key, _, frame in family_frames(data):
        if kind != "contrast":
            break  # the changes between regimes follow every contrast
        dataset, regime, _, factor, level, base = key
        pairs = frame.dropna(subset=run_columns(kind))
        if pairs.empty or not all(
            a in data.records
            and b in data.records  # a frame built without its records
            and same_result(data.records[a], data.records[b])
            for a, b in zip(pairs["level_run"], pairs["base_run"])
        ):
            continue
        claims.append(
            {
                "id": claim_id("never acted", dataset, regime, factor, level),
                "kind": "never acted",
                "dataset": dataset,
                "regime": blank(regime),
                "factor": factor,
                "level": level,
                "baseline": base,
                "question": "did the level change any of its runs?",
                "estimate": 0.0,
                "unit": "points of test accuracy",
                "test": "each pair's test accuracy and history compared for equality",
                "verdict": "never acted",
                "detail": details(pairs=len(pairs)),
                "run_ids": " ".join(runs_in(pairs, run_columns(kind))),
            }
        )
    return claims


# ---- caveats and scope ---------------------------------------------------------------------


def shared_tuning(data, regime, factor):
    """The tuned settings a factor's levels share in `regime` (tuned at its first level), e.g.
    ['lr'], from the grid's tuning summary; [] where each level was tuned for itself."""
    if not data.tuning:
        return []
    cells = [c for c in data.tuning["cells"] if regime is None or c["cell"].get(REGIME) == regime]
    return sorted(
        {k for c in cells if factor in c.get("shared_over", ()) for k in (c["selected"] or {})}
    )


REGULARIZER_STRENGTHS = ("l2", "dropout", "input_dropout", "augment_shift", "augment_degrees")


def caveat_claims(data):
    """Per regime and factor whose levels share a tuned setting: that caveat; where that factor
    is the regularization, that its strengths were set, not tuned; and the shared-lr check
    (protocol.shared_lr_check), quoted only where its measurement covered the regime's budget."""
    claims = []
    for regime in data.regimes:
        for factor in data.contrasted(regime):
            shared = shared_tuning(data, regime, factor)
            if not shared:
                continue
            base = data.levels_in(factor, regime)[0]
            strengths = fixed_strengths(data, regime, factor)
            covered, scope = lr_check_scope(data, regime) if shared == ["lr"] else (False, "")
            for dataset in data.datasets:
                claims.append(
                    {
                        "id": claim_id("caveat", dataset, regime, factor, "shared tuning"),
                        "kind": "caveat",
                        "dataset": dataset,
                        "regime": regime or "",
                        "factor": factor,
                        "baseline": base,
                        "question": f"was each {factor} level judged at its own best settings?",
                        "verdict": "shared tuning",
                        "detail": details(
                            shared=", ".join(shared),
                            strengths=strengths,
                            lr_check=scope,
                            lr_check_covers="yes" if covered else "no",
                        ),
                    }
                )
    return claims


def fixed_strengths(data, regime, factor):
    """'l2 1e-4, dropout 0.2, ...': the regularizer strengths the levels of `factor` ran at in
    `regime` (set by the grid, never tuned); '' where the factor is no regularizer."""
    runs = data.in_regime(data.df, regime)
    found = []
    for key in REGULARIZER_STRENGTHS:
        values = {data.configs[r].get(key) for r in runs["run_id"] if r in data.configs}
        values = sorted(v for v in values if v)
        if values:
            found.append(f"{key} {', '.join(f'{v:g}' for v in values)}")
    return ", ".join(found) if factor == "regularization" else ""


def lr_check_scope(data, regime):
    """(whether the shared-lr check covered `regime`'s budget, what it measured in words). It
    covers a regime whose runs train the same number of epochs as the check's runs."""
    check = shared_lr_check(data)
    if check is None or not len(check):
        return False, ""
    other = data.sibling(data.needs.lr_sharing)
    configs = list(other.configs.values())

    def values(key):
        return sorted({str(c.get(key)) for c in configs})

    epochs = {c.get("epochs") for c in configs}
    mine = {data.configs[r].get("epochs") for r in data.in_regime(data.df, regime)["run_id"]}
    from .protocol import shared_lr_sentence

    scope = (
        f"grid {other.grid}: activation {', '.join(values('activation'))}; optimizer "
        f"{', '.join(values('optimizer'))}; {', '.join(values('epochs'))} epochs; seed "
        f"{', '.join(values('seed'))}. {shared_lr_sentence(check)}"
    )
    return mine <= epochs, scope


INPUTS = {
    "none": "scaled to [0, 1]",
    "global": "one global mean and std",
    "per_pixel": "standardized per pixel",
}
# The settings held fixed across a grid that every conclusion depends on: (config key, name,
# how to print it, None: not worth a mention).
FIXED_SETTINGS = [
    ("hidden", "architecture", None),
    ("epochs", "epochs", str),
    ("batch_size", "batch", str),
    ("normalize", "inputs", lambda v: INPUTS.get(v, v)),
    ("schedule", "schedule", str),
    ("train_size", "training images", lambda v: "all but validation" if v is None else str(v)),
    ("val_size", "validation images", lambda v: None if v is None else str(v)),
    ("trainer", "trainer", str),
]


def scope_claims(data):
    """Per dataset, the settings the grid held fixed, which every conclusion depends on."""
    from ablations.data.datasets import DATASETS

    claims = []
    for dataset in data.datasets:
        configs = [c for c in data.configs.values() if c.get("dataset") == dataset]
        shown = []
        for key, name, show in FIXED_SETTINGS:
            values = {repr(c.get(key, "absent")) for c in configs}
            if len(values) != 1 or key not in configs[0]:
                continue
            value = configs[0][key]
            if key == "hidden":
                spec = DATASETS.get(dataset)
                inputs = int(np.prod(spec.image_shape)) if spec else "?"
                outputs = spec.n_classes if spec else "?"
                shown.append(f"{name} {'-'.join(map(str, [inputs, *value, outputs]))}")
            elif (text := show(value)) is not None:
                shown.append(f"{name} {text}")
        if shown:
            claims.append(
                {
                    "id": claim_id("scope", dataset, "", "", ""),
                    "kind": "scope",
                    "dataset": dataset,
                    "question": "which settings do the conclusions depend on?",
                    "verdict": "held fixed",
                    "detail": details(settings=", ".join(shown)),
                }
            )
    return claims
