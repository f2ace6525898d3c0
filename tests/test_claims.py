"""The claims layer (ablations/analysis/report/claims.py): planted structure against the claim it
must produce (a tie, a cell against the average named on the first screen, a change carried by
the baseline), every claim of the committed default grid recomputed from its own run ids, and
no verdict word in the markdown that is not a claim's."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_record

from ablations.analysis.report import render_report
from ablations.analysis.report import sections as report_sections
from ablations.analysis.report.claims import CLAIM_COLUMNS, KINDS, claims_of
from ablations.analysis.report.frame import load_data
from ablations.analysis.report.sections import SectionError, Section, register_section
from ablations.analysis.report.vocabulary import VERDICTS
from ablations.records.store import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]


def write_grid(folder, entries):
    """results/<grid>/: one record per distinct run id of `entries` ((labels, run id, test
    accuracy, validation accuracy)) and grid.json listing every entry (a run id listed twice
    serves two regimes)."""
    folder.mkdir(parents=True)
    runs, written = [], set()
    for labels, run_id, test_acc, val_acc in entries:
        config = {
            "dataset": labels["dataset"],
            "seed": int(labels["seed"]),
            "hidden": [32],
            "epochs": 3,
            "optimizer": labels.get("optimizer", "sgd"),
            "activation": labels.get("activation", "relu"),
            "lr": 0.1,
        }
        runs.append({"run_id": run_id, "labels": labels, "config": config})
        if run_id in written:
            continue
        written.add(run_id)
        record = synthetic_record(
            run_id,
            labels=labels,
            config=config,
            test_acc=test_acc,
            final_val_acc=val_acc,
            best_val_acc=val_acc,
            test_confusion=(np.eye(10, dtype=int) * 100).tolist(),
            history={"val_acc": [val_acc - 0.01, val_acc], "train_loss": [1.0, 0.5]},
            epochs_run=2,
        )
        write_json_atomic(folder / f"{run_id}.json", record)
    write_json_atomic(folder / "grid.json", runs)


def render(tmp_path, grid):
    markdown = render_report(
        grid, tmp_path / "results", tmp_path / "reports", tmp_path / "data"
    ).read_text()
    claims = pd.read_csv(tmp_path / "reports" / f"{grid}_claims.csv")
    return markdown, claims


def first_screen(markdown):
    return markdown.split("\n## ")[0]


def adam_ahead(tmp_path, seed):
    """A rendered grid g: adam 1 point ahead of sgd, tanh and relu, 4 seeds; (markdown, claims)."""
    rng = np.random.default_rng(seed)
    entries = [
        ({"dataset": "mnist", "optimizer": o, "activation": a, "seed": str(s)}, f"{o}{a}{s}",
         0.9 + 0.01 * (o == "adam") + rng.normal(0, 0.001), 0.9 + rng.normal(0, 0.001))
        for o in ("sgd", "adam") for a in ("tanh", "relu") for s in range(4)
    ]  # fmt: skip
    write_grid(tmp_path / "results" / "g", entries)
    return render(tmp_path, "g")


def test_the_claims_csv_has_every_column_of_the_table(tmp_path):
    _, claims = adam_ahead(tmp_path, 0)
    assert list(claims.columns) == list(CLAIM_COLUMNS)
    assert claims["id"].is_unique and set(claims["kind"]) >= {"contrast", "best"}


def test_two_configurations_equal_on_validation_are_a_tie_never_a_single_best(tmp_path):
    rng = np.random.default_rng(1)
    entries = []
    for seed in range(8):
        shared = rng.normal(0, 0.002)  # the two best share their validation accuracy per seed
        for o, a in [("sgd", "tanh"), ("sgd", "relu"), ("adam", "tanh"), ("adam", "relu")]:
            val = 0.95 + shared if o == "adam" else 0.90 + rng.normal(0, 0.002)
            labels = {"dataset": "mnist", "optimizer": o, "activation": a, "seed": str(seed)}
            entries.append((labels, f"{o}-{a}-{seed}", val - 0.01, val))
    write_grid(tmp_path / "results" / "tie", entries)
    markdown, claims = render(tmp_path, "tie")
    best = claims[claims["kind"] == "best"].iloc[0]
    assert best["verdict"] == "tie"
    assert {best["level"], best["baseline"]} == {"adam / tanh", "adam / relu"}
    assert json.loads(best["detail"])["tied"] == best["baseline"]
    assert "| tie " in first_screen(markdown) and best["sentence"] in markdown


def test_a_clear_best_is_best_with_its_paired_lead(tmp_path):
    rng = np.random.default_rng(2)
    entries = [
        ({"dataset": "mnist", "optimizer": o, "activation": a, "seed": str(s)}, f"{o}{a}{s}",
         0.9, 0.90 + 0.02 * (o == "adam") + 0.01 * (a == "relu") + rng.normal(0, 0.001))
        for o in ("sgd", "adam") for a in ("tanh", "relu") for s in range(6)
    ]  # fmt: skip
    write_grid(tmp_path / "results" / "clear", entries)
    _, claims = render(tmp_path, "clear")
    best = claims[claims["kind"] == "best"].iloc[0]
    assert best["verdict"] == "best" and best["level"] == "adam / relu"
    assert best["ci_low"] > 0 and best["estimate"] == pytest.approx(1.0, abs=0.2)


def test_one_cell_strongly_against_the_average_is_named_on_the_first_screen(tmp_path):
    rng = np.random.default_rng(3)
    effect = {"a0": -2.0, "a1": 1.0, "a2": 1.0, "a3": 1.0, "a4": 1.0}  # points, adam - sgd
    entries = []
    for o in ("sgd", "adam"):
        for a in effect:
            for s in range(6):
                acc = 0.9 + (effect[a] / 100 if o == "adam" else 0) + rng.normal(0, 0.001)
                labels = {"dataset": "mnist", "optimizer": o, "activation": a, "seed": str(s)}
                entries.append((labels, f"{o}-{a}-{s}", acc, acc))
    write_grid(tmp_path / "results" / "against", entries)
    markdown, claims = render(tmp_path, "against")
    adam = claims[(claims["kind"] == "contrast") & (claims["level"] == "adam")].iloc[0]
    assert adam["estimate"] > 0 and adam["cells_opposite"] == 1
    assert re.fullmatch(r"activation: a0 \(-(1\.9\d|2\.0\d)\)", adam["cells_against"])
    row = next(line for line in first_screen(markdown).splitlines() if "`adam` vs `sgd`" in line)
    assert adam["cells_against"] in row and "4 / 1 of 5" in row


def test_a_change_carried_by_the_baseline_names_it_and_never_credits_the_level(tmp_path):
    rng = np.random.default_rng(4)
    entries = []
    for a in ("tanh", "relu"):
        for s in range(6):
            adam = 0.95 + rng.normal(0, 0.001)  # one run, listed under both regimes
            for regime in ("defaults", "tuned"):
                sgd = 0.90 + (0.03 if regime == "tuned" and a == "tanh" else 0.0)
                sgd += rng.normal(0, 0.001)
                for o, acc, rid in [
                    ("sgd", sgd, f"sgd-{regime}-{a}-{s}"),
                    ("adam", adam, f"adam-{a}-{s}"),
                ]:
                    labels = {"regime": regime, "dataset": "mnist", "optimizer": o,
                              "activation": a, "seed": str(s)}  # fmt: skip
                    entries.append((labels, rid, acc, acc))
    write_grid(tmp_path / "results" / "carried", entries)
    markdown, claims = render(tmp_path, "carried")
    change = claims[(claims["kind"] == "regime change") & (claims["level"] == "adam")].iloc[0]
    assert change["verdict"] == "smaller" and change["carried_by"] == "baseline"
    assert "`adam`'s runs are the same records in both regimes" in change["sentence"]
    assert json.loads(change["detail"])["level_same"] == 1.0
    assert change["sentence"] in markdown


@pytest.fixture(scope="module")
def default_data():
    data = load_data("default", ROOT / "results", ROOT / "data")
    return data, claims_of(data).table


def runs_of(data, claim):
    """data.df's rows (one per grid entry) of the claim's run ids."""
    return data.df[data.df["run_id"].isin(claim["run_ids"].split())]


def paired_effect(rows, factor, level, baseline, match):
    """The equal-weight mean over cells of the mean paired difference (points), recomputed."""
    wide = rows.pivot_table(index=match, columns=factor, values="test_acc", aggfunc="first")
    diff = 100 * (wide[level] - wide[baseline]).dropna()
    cells = [m for m in match if m != "seed"]
    return diff.groupby(level=cells).mean().mean() if cells else diff.mean()


# Planted optimizer levels against the baseline sgd, per seed and activation: how each level's
# run relates to its sgd pair, and whether the level is flagged as never having acted.
PLANTED_LEVELS = {
    "adam": ("a different test accuracy", False),
    "rmsprop": ("the same test accuracy and history", True),
    "momentum": ("the same test accuracy, another history", False),
    "nesterov": ("the same in every pair but one", False),
}


def test_a_level_that_never_changed_a_run_is_one_claim_and_one_line(tmp_path):
    rng = np.random.default_rng(5)
    entries = []
    for a in ("tanh", "relu"):
        for seed in range(4):
            base = 0.9 + rng.normal(0, 0.002)
            for o in ("sgd", *PLANTED_LEVELS):
                differs = o == "adam" or (o == "nesterov" and (a, seed) == ("relu", 3))
                acc = base + 0.01 if differs else base
                labels = {"dataset": "mnist", "optimizer": o, "activation": a, "seed": str(seed)}
                entries.append((labels, f"{o}-{a}-{seed}", acc, acc))
    folder = tmp_path / "results" / "inert"
    write_grid(folder, entries)
    for path in folder.glob("momentum-*.json"):
        record = json.loads(path.read_text())
        record["history"]["train_loss"] = [1.0, 0.25]
        write_json_atomic(path, record)
    markdown, claims = render(tmp_path, "inert")
    assert set(KINDS) == set(VERDICTS) and set(claims["kind"]) <= set(KINDS)
    assert all(v in VERDICTS[k] for k, v in zip(claims["kind"], claims["verdict"]))
    flagged = claims[claims["kind"] == "never acted"]
    assert list(flagged["level"]) == [o for o, (_, never) in PLANTED_LEVELS.items() if never]
    (claim,) = flagged.itertuples()
    assert claim.baseline == "sgd" and json.loads(claim.detail) == {"pairs": 8}
    assert claim.run_ids.split() == sorted(
        f"{o}-{a}-{s}" for o in ("sgd", "rmsprop") for a in ("tanh", "relu") for s in range(4)
    )
    lines = [line for line in first_screen(markdown).splitlines() if "never changed a run" in line]
    assert lines == [f"**Never acted**: {claim.sentence}."]
    assert claim.sentence.startswith("optimizer `rmsprop` never changed a run (mnist): in all 8")


def test_every_claim_of_the_default_grid_recomputes_from_its_run_ids(default_data):
    data, claims = default_data
    others = [f for f in data.factors if f != "regime"]
    checked = 0
    for _, c in claims.iterrows():
        rows = runs_of(data, c)
        rows = rows[rows["dataset"] == c["dataset"]]
        if c["kind"] in ("contrast", "regime change"):
            match = ["seed", *(f for f in others if f != c["factor"] and rows[f].nunique() > 1)]
            effect = {
                r: paired_effect(rows[rows["regime"] == r], c["factor"], c["level"], c["baseline"], match)
                for r in {c["regime"], c["from_regime"]} - {""}
            }  # fmt: skip
            expected = (
                effect[c["regime"]] - effect[c["from_regime"]]
                if c["kind"] == "regime change"
                else effect[c["regime"]]
            )
        elif c["kind"] == "best":
            rows = rows[rows["regime"] == c["regime"]]
            name = rows[others].astype(str).agg(" / ".join, axis=1)
            val = rows.assign(name=name).pivot_table(
                index="seed", columns="name", values="final_val_acc"
            )
            expected = 100 * (val[c["level"]] - val[c["baseline"]]).mean()
        else:
            continue
        assert c["estimate"] == pytest.approx(expected, abs=1e-9), c["id"]
        checked += 1
    assert checked == 66  # 40 contrasts, 20 changes, 6 best configurations


def test_no_regime_change_is_credited_to_a_level_whose_runs_are_the_same(default_data):
    _, claims = default_data
    changes = claims[claims["kind"] == "regime change"]
    same = changes[[json.loads(d)["level_same"] == 1.0 for d in changes["detail"]]]
    assert len(same) >= 2  # mnist adam and adamw: lr equal in both regimes
    assert (same["carried_by"] == "baseline").all()
    assert all("runs are the same records" in s for s in same["sentence"])


VERDICT_WORDS = re.compile(
    r"\b(beats|trails|not distinguishable|no change shown|tie|across settings|is best|"
    r"larger in|smaller in|cannot test)\b"
)


def test_the_markdown_holds_no_verdict_word_without_a_claim(default_data):
    data, claims = default_data
    sentences = sorted(claims["sentence"], key=len, reverse=True)
    shorts = {}
    for section in (report_sections.verdicts, report_sections.summary):
        for line in section(data).markdown.splitlines():
            if line.startswith("|"):  # a table row: its verdict cell is one claim's words
                cells = [c.strip() for c in line.strip("|").split("|")]
                shorts.setdefault("rows", []).append(cells)
                continue
            if not line.startswith("- "):  # captions: they define the words, claim nothing
                continue
            rest = line
            for s in sentences:
                rest = rest.replace(s, "")
            assert not VERDICT_WORDS.search(rest), line[:200]
    contrast = claims[claims["kind"] == "contrast"]
    table = {(r[0], r[1], r[3]): r[4] for r in shorts["rows"] if len(r) == 9}
    from ablations.analysis.report.vocabulary import short

    for _, c in contrast.iterrows():
        assert table[c["dataset"], c["regime"], f"`{c['level']}` vs `{c['baseline']}`"] == short(c)


def test_a_study_can_add_a_section_without_a_library_edit(tmp_path, monkeypatch):
    monkeypatch.setattr(report_sections, "SECTIONS", list(report_sections.SECTIONS))
    import ablations.analysis.report.render as render_module

    monkeypatch.setattr(render_module, "SECTIONS", report_sections.SECTIONS)

    def my_table(data):
        return Section(f"## My study's table\n\n{len(data.ok)} finished runs")

    register_section(my_table, after="cost")
    register_section(my_table, after="cost")  # a study imported twice: once in the report
    with pytest.raises(SectionError, match="no section 'nowhere' to follow; valid: verdicts"):
        register_section(lambda data: Section(""), after="nowhere")
    entries = [
        ({"dataset": "mnist", "optimizer": o, "activation": "relu", "seed": str(s)}, f"{o}{s}",
         0.9, 0.9)
        for o in ("sgd", "adam") for s in range(3)
    ]  # fmt: skip
    write_grid(tmp_path / "results" / "mine", entries)
    markdown, _ = render(tmp_path, "mine")
    assert markdown.count("## My study's table\n\n6 finished runs") == 1
    assert markdown.index("## Cost") < markdown.index("## My study's table")


def test_the_claims_csv_rounds_numbers_to_eight_digits(tmp_path):
    """Last bits of a bootstrap differ between CPUs; the CSV keeps 8 significant digits, so a
    fresh clone's `make run` leaves the committed claims as they are."""
    adam_ahead(tmp_path, 1)
    text = (tmp_path / "reports" / "g_claims.csv").read_text()
    numbers = [f for line in text.splitlines()[1:] for f in line.split(",") if "." in f]
    decimals = [f for f in numbers if f.replace(".", "").replace("-", "").isdigit()]
    assert decimals and all(len(f.lstrip("-").replace(".", "").lstrip("0")) <= 8 for f in decimals)
