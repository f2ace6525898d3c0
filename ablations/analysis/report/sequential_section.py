"""The report's section for a sequential grid: its look log (results/<grid>/sequential.json,
written by ablations/waves.py) read back, every p* recomputed from the log's own p and pi (the
section says whether each equals the logged one to the bit), and per test "decided at wave w of
W", the MDE at the stop for a "not distinguishable", and the runs the stops saved. A grid
without a look log gets no section. Registered after the header (sections.register_section)."""

import json

import pandas as pd

from ablations.records.store import SEQUENTIAL_FILE
from .sections import register_section
from .text import Section, md_table

UNDECIDED = "undecided"  # sequential_design.UNDECIDED (that module imports this package)


def read_look_log(data):
    """The grid's look log (a dict), or None where it has none."""
    path = data.results_dir / data.grid / SEQUENTIAL_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def stop_words(test, log):
    """'decided at wave w of W (n of N runs)': the wave it closed at and the runs its pairs rest
    on up to then, of all it would rest on; 'undecided after wave v of W' while open."""
    if test["decision"] == UNDECIDED:
        return f"undecided after wave {log['wave']} of {log['waves']}"
    used = test["runs"] - test["freed"]
    return (
        f"decided at wave {test['closed_wave']} of {log['waves']} ({used} of {test['runs']} runs)"
    )


def test_row(test, log):
    """One row of the section's table."""
    last = test["looks"][-1] if test["looks"] else {}
    distinguishable = test["decision"] in ("beats", "trails")
    return {
        "test": test["name"],
        "decision": test["decision"],
        "when": stop_words(test, log),
        "Δ points": "" if last.get("estimate") is None else f"{last['estimate']:+.2f}",
        "p*": "" if not last else f"{last['p_star']:.3g}",
        "MDE at the stop": "" if distinguishable or test["mde"] is None else f"{test['mde']:.2f}",
        "runs its stop saved": test["freed"],
    }


def sequential_looks(data):
    """Section: the sequential design's decisions, from the look log alone."""
    from ..sequential_design import recompute_p_star  # it imports this package: lazily

    log = read_look_log(data)
    if log is None:
        return Section("")
    looks = [(t["name"], look) for t in log["tests"] for look in t["looks"]]
    differ = [
        name
        for t in log["tests"]
        for name, (look, again) in (
            (t["name"], pair) for pair in zip(t["looks"], recompute_p_star(t["looks"]))
        )
        if look["p_star"] != again
    ]
    check = (
        f"every p* ({len(looks)} looks) recomputed from the log's p and pi equals the logged "
        f"one to the bit"
        if not differ
        else f"**{len(differ)} logged p* differ from their p and pi**: {', '.join(differ[:3])}"
    )
    saved = log["runs_planned"] - log["runs_finished"]
    lines = [
        "## Sequential design",
        "",
        f"{log['waves']} waves of seeds, looks taken: {log['wave']}; family of "
        f"{log['family_size']} tests at alpha {log['alpha']} (Holm over p* = min over looks "
        f"of p_w / pi_w, each test's alpha spent over the waves that bring it new seeds: 25% "
        f"at the first, the rest in O'Brien-Fleming shape). "
        f"{log['runs_finished']} of {log['runs_planned']} runs trained: the stops saved "
        f"{saved} (a run two tests rest on counts in each test's saved runs). "
        f"Check: {check}.",
        "",
        md_table(pd.DataFrame([test_row(t, log) for t in log["tests"]])),
        "",
    ]
    return Section("\n".join(lines))


register_section(sequential_looks, after="header")
