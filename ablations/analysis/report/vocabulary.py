"""The report's words: a verdict and a claim (claims.py) into the English the report prints.

Every sentence is built from one claim's own fields (its `detail` JSON included), so the
markdown says nothing its claim does not hold. The one place where "beats", "trails", "tie",
"not distinguishable" and their kin are chosen.
"""

import json

import numpy as np

from .contrasts import ACROSS, AVERAGE, NONE
from .targets import fastest_words
from .text import interval, p_clause

# The verdicts a claim can carry, by kind.
VERDICTS = {
    "contrast": ("beats", "trails", "not distinguishable", "cannot test"),
    "regime change": ("larger", "smaller", "no change shown", "cannot test"),
    "best": ("best", "tie", "lead not tested", "only one configuration"),
    "importance": ("largest share", "not decomposed"),
    "time to target": ("differ", "not distinguishable"),
    "never acted": ("never acted",),
    "caveat": ("shared tuning",),
    "scope": ("held fixed",),
}
# The question a supported contrast answers, in the words the verdict table and lines use.
SCOPES = {"across": "across settings", "average": "on average", "one": "in its one setting"}


def verdict_of(row, change):
    """The verdict word of a contrast-family row (contrasts.contrast_family)."""
    if row["verdict"] in (ACROSS, AVERAGE):
        if change:
            return "larger" if row["delta"] > 0 else "smaller"
        return "beats" if row["delta"] > 0 else "trails"
    if row["verdict"] == NONE:
        return "no change shown" if change else "not distinguishable"
    return "cannot test"


def supported(claim):
    return claim["verdict"] in ("beats", "trails", "larger", "smaller")


def scope(claim):
    """'across settings', 'on average' or 'in its one setting' for a supported claim."""
    if claim["question"].startswith("would it hold"):
        return SCOPES["across"]
    return SCOPES["one"] if claim["cells"] == 1 else SCOPES["average"]


def detail(claim):
    return json.loads(claim["detail"]) if claim["detail"] else {}


def short(claim):
    """The verdict in a few words, for the first screen's table: 'beats across settings',
    'trails on average', 'not distinguishable (MDE 0.06)', 'tie', ..."""
    if supported(claim):
        return f"{claim['verdict']} {scope(claim)}"
    if claim["verdict"] in ("not distinguishable", "no change shown"):
        return f"{claim['verdict']} (MDE {claim['mde']:.2f})"
    return claim["verdict"]


def sentence(claim):
    """The words the report prints for `claim` (a row of claims.CLAIM_COLUMNS)."""
    return WORDS[claim["kind"]](claim)


def beyond_words(claim):
    """', beyond seed noise in k of K cells; concentrated in ...; reversed in ...'."""
    k = int(claim["cells"])
    if k <= 1:
        return ""
    text = f", beyond seed noise in {claim['cells_beyond']} of {k} cells (Holm within the contrast)"
    if claim["cells_for"]:
        text += f"; concentrated in {claim['cells_for']}"
    if claim["cells_against"]:
        text += f"; reversed in {claim['cells_against']}"
    return text


def robustness_words(claim):
    if claim["normal_only"]:
        companion = (
            f"the {claim['companion_test']}, {p_clause('Holm p', claim['companion_holm_p'])}"
            if claim["companion_test"]
            else "no distribution-free test exists for this design"
        )
        return f"; only the normal-theory test supports it ({companion})"
    return ""


def across_words(claim):
    """What the across-settings question got, where the claim is over these settings."""
    found = detail(claim)
    k = int(claim["cells"])
    if not np.isfinite(found.get("across_holm_p", np.nan)):
        return f"across settings this design cannot test it ({found.get('across_model', '')})"
    needs = found.get("levels_needed")
    return (
        f"across settings not shown ({found['across_model']}, "
        f"{p_clause('Holm p', found['across_holm_p'])}"
        + (f"; about {needs} levels per factor would be needed" if needs else "")
        + ")"
        if k > 1
        else ""
    )


def small_words(claim):
    return "; below the test-set SE" if claim["below_test_se"] and supported(claim) else ""


def contrast_words(claim):
    level, base = f"`{claim['level']}`", f"`{claim['baseline']}`"
    ci = interval(claim["ci_low"], claim["ci_high"])
    holm = p_clause("Holm p", claim["holm_p"])
    if supported(claim):
        where = scope(claim)
        over = " over cells" if where == SCOPES["across"] else ""
        text = (
            f"{level} {claim['verdict']} {base} by {claim['estimate']:+.2f} points "
            f"{'on average over these settings' if where == SCOPES['average'] else where} "
            f"(95% CI{over} {ci}, {holm}{beyond_words(claim)}{small_words(claim)}"
            f"{robustness_words(claim)})"
        )
        if where != SCOPES["across"] and claim["cells"] > 1:
            text += f"; {across_words(claim)}"
        return text
    if claim["verdict"] == "not distinguishable":
        return (
            f"{level} is not distinguishable from {base} ({claim['estimate']:+.2f} points, "
            f"95% CI {ci}, {holm}): effects smaller than {claim['mde']:.2f} points could go "
            f"undetected"
        )
    return f"{level} against {base}: this design cannot test it ({detail(claim)['reason']})"


def side_words(found, side):
    """'`sgd` itself changes by +0.77 [+0.70, +0.84] (beyond noise in activation: sigmoid
    (+3.10))', or that its runs are the same records in both regimes."""
    name = f"`{found[f'{side}_name']}`"
    if found[f"{side}_same"] == 1:
        return f"{name}'s runs are the same records in both regimes"
    where = f", beyond noise in {found[f'{side}_cells']}" if found[f"{side}_cells"] else ""
    return (
        f"{name} itself changes by {found[f'{side}_change']:+.2f} points "
        f"({interval(found[f'{side}_low'], found[f'{side}_high'])}{where})"
    )


def change_words(claim):
    found = detail(claim)
    level, base = f"`{claim['level']}`", f"`{claim['baseline']}`"
    ci = interval(claim["ci_low"], claim["ci_high"])
    holm = p_clause("Holm p", claim["holm_p"])
    span = f"from {claim['from_regime']} to {claim['regime']}"
    if supported(claim):
        where = scope(claim)
        text = (
            f"the gap of {level} over {base} is {abs(claim['estimate']):.2f} points "
            f"{claim['verdict']} in {claim['regime']} than in {claim['from_regime']} "
            f"{'on average over these settings' if where == SCOPES['average'] else where} "
            f"(95% CI {ci}, {holm}{beyond_words(claim)}{robustness_words(claim)})"
        )
        carried = claim["carried_by"]
        if carried == "baseline":
            text += (
                f": carried by the baseline, {side_words(found, 'base')}, while "
                f"{side_words(found, 'level')}"
            )
        elif carried == "level":
            text += (
                f": carried by the level, {side_words(found, 'level')}, while "
                f"{side_words(found, 'base')}"
            )
        else:
            text += (
                f": both sides move, {side_words(found, 'level')} and {side_words(found, 'base')}"
            )
        return text
    if claim["verdict"] == "no change shown":
        return (
            f"no change shown in the gap of {level} over {base} {span} "
            f"({claim['estimate']:+.2f} points, 95% CI {ci}, {holm}): effects smaller than "
            f"{claim['mde']:.2f} points could go undetected"
        )
    return f"the gap of {level} over {base} {span}: this design cannot test it"


def test_words(found):
    sd = found["test_sd"]
    spread = f", sd {sd:.2f}" if np.isfinite(sd) else ""
    return f"test {found['test_mean']:.2f}% (mean{spread} over {found['seeds']} seeds)"


def best_words(claim):
    found = detail(claim)
    where = claim["dataset"] + (f", {claim['regime']}" if claim["regime"] else "")
    best = f"`{claim['level']}`"
    only = (
        f"; the only {found['only_cell']} cell trained at this budget" if found["only_cell"] else ""
    )
    if claim["verdict"] == "only one configuration":
        return f"{where}: {best}, the one configuration (validation {found['val']:.2f}%), {test_words(found)}{only}"
    lead = (
        f"leads the runner-up `{claim['baseline']}` by {claim['estimate']:+.2f} validation "
        f"points (95% CI {interval(claim['ci_low'], claim['ci_high'])}, {claim['interval']})"
    )
    if claim["verdict"] == "lead not tested":
        return (
            f"{where}: {best} has the best validation accuracy ({found['val']:.2f}%), ahead of "
            f"`{claim['baseline']}` by {claim['estimate']:+.2f} points on one seed: too few to "
            f"test the lead; {test_words(found)}{only}"
        )
    if claim["verdict"] == "tie":
        tied = found["tied"].split(" | ")
        names = ", ".join(f"`{t}`" for t in tied)
        return (
            f"{where}: a tie on validation: {best} (validation {found['val']:.2f}%) {lead}, and "
            f"{len(tied)} of the other {found['configurations'] - 1} configurations are within "
            f"seed noise of it ({names}); {test_words(found)}{only}"
        )
    return f"{where}: {best} is best on validation ({found['val']:.2f}%), {lead}; {test_words(found)}{only}"


def importance_words(claim):
    found = detail(claim)
    if claim["verdict"] == "not decomposed":
        return f"on {claim['dataset']} {found['design']}"
    above = (
        f"; the higher-order interactions explain more, {found['higher']:.0f}%"
        if found["higher"] > claim["estimate"]
        else ""
    )
    return (
        f"`{claim['factor']}` on {claim['dataset']}, {claim['estimate']:.0f}% "
        f"{interval(claim['ci_low'], claim['ci_high'], '.0f')} ({found['design']}{above}); "
        f"seed-to-seed noise within cells {found['seeds']:.0f}%"
    )


def target_words(claim):
    found = detail(claim)
    holm = p_clause("Holm p", claim["holm_p"])
    what = f"{claim['dataset']} {claim['factor']}, {claim['unit']}"
    if claim["verdict"] == "differ":
        return f"{what}: {fastest_words(found['medians'], claim['unit'])}, {holm}"
    return f"{what}: the levels are not distinguishable, {holm}"


def never_acted_words(claim):
    where = ", ".join(filter(None, [claim["dataset"], claim["regime"]]))
    pairs = detail(claim)["pairs"]
    return (
        f"{claim['factor']} `{claim['level']}` never changed a run ({where}): in all {pairs} "
        f"of its pairs with `{claim['baseline']}` both runs have the same test accuracy and "
        f"history, bit for bit, so its contrast says nothing about it (a constraint that never "
        f"bound, or a setting nothing reads)"
    )


def caveat_words(claim):
    found = detail(claim)
    text = (
        f"Caveat: {found['shared']} was tuned at `{claim['baseline']}` and shared by every "
        f"{claim['factor']} level, so a level that wants another value is judged at its "
        f"baseline's."
    )
    if found["strengths"]:
        text += (
            f" The regularizer strengths themselves were set by the grid and never tuned "
            f"({found['strengths']})."
        )
    if found["lr_check"]:
        if found["lr_check_covers"] == "yes":
            text += f" Measured (*Does the shared lr cost the regularizers?*, {found['lr_check']})"
        else:
            text += (
                f" The shared-lr check (*Does the shared lr cost the regularizers?*) measured "
                f"another budget ({found['lr_check'].split('. ')[0]}), so it says nothing about "
                f"this regime."
            )
    return text


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


def scope_words(claim):
    return f"{claim['dataset']}: {detail(claim)['settings']}"


WORDS = {
    "contrast": contrast_words,
    "regime change": change_words,
    "best": best_words,
    "importance": importance_words,
    "time to target": target_words,
    "never acted": never_acted_words,
    "caveat": caveat_words,
    "scope": scope_words,
}
