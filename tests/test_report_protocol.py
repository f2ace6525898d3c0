"""The report's protocol sections (issue 12) from hand-made records of the showcase's grids:
regimes compared within themselves, tuning diagnostics from a hand-made tuning.json (edge flags, the
inclusion check), the generalization gap, seed variance by stream, the AlgoPerf anchor with misses
as infinity, and the showcase's wall time summed over sittings without the gaps between them."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from helpers import synthetic_record

from ablations.analysis.diagnostics import sittings
from ablations.records.store import write_json_atomic
from ablations.analysis.report import render_report
from ablations.analysis.report.frame import load_data
from ablations.analysis.report.needs import report_needs
from ablations.analysis.report.protocol import anchor, generalization_gap, seed_variance, tuning
from ablations.analysis.stats.aggregates import std_ci
from ablations.analysis.stats.bootstrap import bootstrap_weights
import studies

NEW_HEADINGS = [
    "## Tuning",
    "### Learning-rate sensitivity",
    "### Selections at the edge of their search range",
    "### Diverged tuning trials",
    "### Inclusion check",
    "### What each cell selected",
    "## Generalization gap",
    "## Seed variance by source",
    "## AlgoPerf anchor",
    "**Showcase wall time:**",
]
LRS = {"sgd": [0.03, 0.3, 3.0], "momentum": [1e-3, 1e-2, 1e-1]}


class Grid:
    """Writes one grid's records, grid.json and (if tuned) tuning.json under results/<name>."""

    def __init__(self, root, name):
        self.folder = root / name
        self.folder.mkdir(parents=True)
        self.runs, self.cells, self.tuning_ids = [], [], []
        self.rng = np.random.default_rng(len(name))

    def record(
        self,
        rid,
        labels,
        config,
        acc,
        *,
        status="ok",
        finished="2026-11-22T10:00:00",
        wall=60.0,
        train_acc=None,
        to_target=(2, 20.0),
        final=True,
        jitter=0.002,
    ):
        """One run's record (accuracy `acc` on test and validation, plus noise of sd `jitter`)."""
        acc = acc + self.rng.normal(0, jitter)
        record = synthetic_record(
            rid,
            status,
            labels=labels,
            config=config,
            **{
                "test_acc": acc if status == "ok" else None,
                "test_loss": 1 - acc,
                "final_val_acc": acc if status == "ok" else None,
                "best_val_acc": acc,
                "train_acc": train_acc if train_acc is not None else acc + 0.01,
                "train_time_s": wall - 5,
                "eval_time_s": 1.0,
                "wall_time_s": wall,
                "epochs_run": 3,
                "epochs_to_target": to_target[0],
                "seconds_to_target": to_target[1],
                "target_val_acc": 0.97,
                "n_params": 100,
                "history": {
                    "val_acc": [acc - 0.05, acc - 0.01, acc],
                    "val_loss": [0.5, 0.3, 0.4],
                    "train_loss": [1, 0.5, 0.3],
                },
                "test_confusion": (np.eye(10, dtype=int) * 900 + 11).tolist(),
                "test_misclassified": [],
                "finished_at": finished,
                "environment": {"cpu": "test cpu", "cores": 2},
                "code_version": "abc1234",
            },
        )
        write_json_atomic(self.folder / f"{rid}.json", record)
        if final:
            self.runs.append({"run_id": rid, "labels": labels, "config": config})

    def tune(self, cell, setting, values, scores, selected, finished="2026-11-22T09:00:00"):
        """A tuned cell: one tuning run per candidate (seed 1000) with `scores` as validation
        accuracy; `selected` is the chosen value."""
        trials = []
        for value, score in zip(values, scores):
            rid = "tune-" + "-".join(map(str, [*cell.values(), value]))
            config = {
                **{k: v for k, v in cell.items() if k != "regime"},
                setting: value,
                "seed": 1000,
            }
            diverged = score is None
            self.record(
                rid,
                {**cell, "seed": "1000"},
                config,
                0.1 if diverged else score,
                status="diverged" if diverged else "ok",
                final=False,
                finished=finished,
            )
            self.tuning_ids.append(rid)
            trials.append(
                {
                    "settings": {setting: value},
                    "run_ids": [rid],
                    "score": score or 0.0,
                    "diverged": int(score is None),
                }
            )
        self.cells.append(
            {
                "cell": cell,
                "rule": "final_val_acc",
                "seeds": [1000],
                "rungs": [{"epochs": None, "trials": trials}],
                "selected": {setting: selected},
                "selected_val": max(s or 0 for s in scores),
            }
        )

    def save(self):
        write_json_atomic(self.folder / "grid.json", self.runs)
        if self.cells:
            write_json_atomic(
                self.folder / "tuning.json",
                {
                    "grid": self.folder.name,
                    "rules": {"final_val_acc": "validation accuracy after the last epoch"},
                    "tuning_run_ids": self.tuning_ids,
                    "final_run_ids": [r["run_id"] for r in self.runs],
                    "pending_final_runs": 0,
                    "cells": self.cells,
                },
            )


def default_grid(root, tuned_sgd_bonus=0.0):
    """Both regimes on mnist: defaults (sgd, momentum x tanh, relu; no regularizer) where momentum
    is 3 points better, tuned (lr tuned per optimizer x activation, regularization none / dropout)
    where they tie unless `tuned_sgd_bonus`; sgd/relu's lr is selected at the top edge."""
    grid = Grid(root, "default")
    for regime in ["defaults", "tuned"]:
        for opt in ["sgd", "momentum"]:
            for act in ["tanh", "relu"]:
                if regime == "tuned":
                    top = act == "relu" and opt == "sgd"
                    lrs = LRS[opt]
                    grid.tune(
                        {"regime": regime, "dataset": "mnist", "optimizer": opt, "activation": act},
                        "lr",
                        lrs,
                        [0.90, 0.95, 0.97] if top else [0.90, 0.96, None],
                        lrs[2] if top else lrs[1],
                    )
                for reg in ["none"] if regime == "defaults" else ["none", "dropout"]:
                    for seed in range(4):
                        labels = {
                            "regime": regime,
                            "dataset": "mnist",
                            "optimizer": opt,
                            "activation": act,
                            "regularization": reg,
                            "seed": str(seed),
                        }
                        config = {
                            "dataset": "mnist",
                            "seed": seed,
                            "optimizer": opt,
                            "activation": act,
                            "lr": 1e-3,
                            "hidden": [32],
                            "epochs": 3,
                            "dropout": 0.2 if reg == "dropout" else 0.0,
                        }
                        acc = 0.95 + (
                            0.03 * (opt == "momentum")
                            if regime == "defaults"
                            else tuned_sgd_bonus * (opt == "sgd")
                        )
                        grid.record(
                            f"{regime}-{opt}-{act}-{reg}-{seed}",
                            labels,
                            config,
                            acc,
                            finished=f"2026-11-22T10:{seed:02d}:00",
                            train_acc=0.99 if reg == "none" else None,
                        )
    grid.save()


def small_data_grid(root):
    grid = Grid(root, "small_data")
    for reg, values in [("none", None), ("l2", [1e-5, 1e-4, 1e-3])]:
        cell = {"dataset": "mnist", "regularization": reg}
        if values:
            grid.tune(cell, "l2", values, [0.93, 0.94, 0.92], 1e-4)
        for seed in range(3):
            grid.record(
                f"small-{reg}-{seed}",
                {**cell, "seed": str(seed)},
                {"dataset": "mnist", "seed": seed, "train_size": 5000},
                0.93,
                train_acc=1.0,
                finished="2026-11-22T14:00:00",
            )  # a later sitting
    grid.save()


def variance_grid(root):
    """every stream together over 6 seeds; `init` varies 3 times as much as `order`."""
    grid = Grid(root, "variance")
    spread = {"all": 0.004, "init": 0.003, "order": 0.001}
    for varied, noise in spread.items():
        for value in range(6 if varied == "all" else 5):
            value += varied != "all"
            config = {
                "dataset": "mnist",
                "seed": value if varied == "all" else 0,
                **({} if varied == "all" else {f"{varied}_seed": value}),
            }
            grid.record(
                f"var-{varied}-{value}",
                {"dataset": "mnist", "varied": varied, "value": str(value)},
                config,
                0.97 + noise * math.sin(3 * value),
                jitter=0.0,
            )
    grid.save()


def algoperf_grid(root):
    """adam reaches the target in 10 s on 2 seeds of 3; sgd on 1 of 3 (its median is a miss)."""
    grid = Grid(root, "algoperf")
    for opt, lr in [("sgd", 0.3), ("adam", 1e-3)]:
        for seed in range(3):
            reached = seed < (2 if opt == "adam" else 1)
            grid.record(
                f"ap-{opt}-{seed}",
                {"optimizer": opt, "seed": str(seed)},
                {
                    "dataset": "mnist",
                    "seed": seed,
                    "optimizer": opt,
                    "lr": lr,
                    "hidden": [128],
                    "activation": "sigmoid",
                    "epochs": 20,
                    "batch_size": 128,
                    "schedule": "constant",
                },
                0.97,
                to_target=(5, 10.0 + seed) if reached else (None, None),
            )
    grid.save()


@pytest.fixture
def showcase(tmp_path):
    root = tmp_path / "results"
    default_grid(root)
    small_data_grid(root)
    variance_grid(root)
    algoperf_grid(root)
    return tmp_path


def needs(grid):
    """What this project's study declares the grid's report needs (studies/__init__.py)."""
    return report_needs(grid, studies.REPORTS.get(grid))


def render(tmp_path, grid):
    return render_report(
        grid, tmp_path / "results", tmp_path / "reports", tmp_path / "data", needs(grid)
    ).read_text()


def data_of(tmp_path, grid):
    return load_data(grid, tmp_path / "results", tmp_path / "data", needs(grid))


def test_every_new_element_renders_and_rerendering_is_byte_identical(showcase):
    texts = {g: render(showcase, g) for g in ["default", "small_data", "variance", "algoperf"]}
    everything = "\n".join(texts.values())
    for heading in NEW_HEADINGS:
        assert heading in everything, heading
    for name in ["default/lr_sensitivity_mnist.png", "variance/seed_variance.png"]:
        assert (showcase / "reports" / "figures" / name).stat().st_size > 1000
        assert f"figures/{name}" in everything
    before = {p: p.read_bytes() for p in (showcase / "reports").rglob("*") if p.is_file()}
    assert {g: render(showcase, g) for g in texts} == texts
    assert {p: p.read_bytes() for p in (showcase / "reports").rglob("*") if p.is_file()} == before


def test_sections_return_nothing_where_they_do_not_apply(showcase):
    default, variance = data_of(showcase, "default"), data_of(showcase, "variance")
    assert anchor(default).markdown == ""
    assert seed_variance(data_of(showcase, "small_data")).markdown == ""
    assert tuning(variance).markdown == "" and generalization_gap(variance).markdown == ""
    text = render(showcase, "variance")
    for heading in [
        "## Tuning",
        "## Generalization gap",
        "## AlgoPerf",
        "Showcase wall time",
        "## With and without each component",
        "## Cost",
    ]:
        assert heading not in text  # the stream axes replicate; they are not compared
    assert "**Factors:** none" in text and "## Seed variance by source" in text


def test_findings_are_within_each_regime_and_changes_are_interactions(showcase):
    data = data_of(showcase, "default")
    family = data.contrasts
    contrasts = family[family["kind"] == "contrast"]
    # regularization has one level in "defaults": contrasted in "tuned" only
    assert set(contrasts.loc[contrasts["factor"] == "regularization", "regime"]) == {"tuned"}
    pairs = contrasts.set_index(["regime", "factor"])["pairs"]
    assert pairs[("defaults", "optimizer")] == 2 * 4  # activations x seeds, never across regimes
    assert pairs[("tuned", "optimizer")] == 2 * 2 * 4
    # the change of momentum's effect is estimated on the cells both regimes have (tanh, relu
    # without a regularizer), seed by seed
    change = family[(family["kind"] == "change") & (family["level"] == "momentum")].iloc[0]
    assert (change["from_regime"], change["regime"], change["cells"], change["pairs"]) == (
        "defaults",
        "tuned",
        2,
        8,
    )
    assert change["delta"] == pytest.approx(-3.0, abs=0.5)  # 4 runs of jitter 0.2 per seed
    text = render(showcase, "default")
    assert re.search(
        r"\*\*optimizer\*\* on mnist \(defaults regime\): `momentum` beats `sgd` "
        r"by \+(2\.9|3\.0)\d points on average over these settings",
        text,
    )
    assert "**optimizer** on mnist (tuned regime): `momentum` is not distinguishable" in text
    assert re.search(
        r"\*\*Change between regimes\*\*, optimizer on mnist: the gap of "
        r"`momentum` over `sgd` is (2\.[5-9]|3\.[0-4])\d points smaller in tuned than in "
        r"defaults on average over these settings",
        text,
    )
    assert "The best activation" not in text  # rankings of means are not called changes
    assert "#### mnist, regime `defaults`" in text and "#### mnist, regime `tuned`" in text


def test_tuning_flags_edges_divergences_and_lists_selections(showcase):
    text = tuning(data_of(showcase, "default")).markdown
    assert "4 of 4 tuned settings selected the smallest or largest candidate" in text
    edge = text.split("### Selections at the edge")[1].split("###")[0]
    assert re.search(
        r"\| mnist +\| tuned +\| sgd +\| relu +\| lr +\| +3 +\| +0\.03 +\| +3 +\| high", edge
    ), edge
    # the other three selected the candidate just below the one that diverged: the largest
    # finite candidate, an edge of the usable range
    assert edge.count("| finite high") == 3
    assert re.search(
        r"\| momentum +\| tanh +\| lr +\| +0\.01 +\| +0\.001 +\| +0\.1 +\| finite high", edge
    )
    # one of three trials diverged in every cell but sgd/relu's
    assert re.search(r"\| momentum +\| +6 \| +2 \| +33\.3 \|", text)
    assert re.search(r"\| sgd +\| +6 \| +1 \| +16\.7 \|", text)
    assert "None of the 4 pairs violates it." in text
    assert re.search(
        r"\| mnist +\| tuned +\| momentum +\| tanh +\| +3 \| +1 \| lr=0\.01 +\| "
        r"+96\.00",
        text,
    )


def test_a_violated_inclusion_check_is_flagged(tmp_path):
    default_grid(tmp_path / "results", tuned_sgd_bonus=0.02)  # tuned sgd beats tuned momentum
    data = data_of(tmp_path, "default")
    text = tuning(data).markdown
    assert "**4 of 4 pairs violate it**" in text
    assert re.search(
        r"\| mnist +\| tuned +\| relu +\| dropout +\| sgd +\| momentum +\| "
        r"+-[12]\.\d\d",
        text,
    )


def test_generalization_gap_sets_the_regimes_and_small_data_side_by_side(showcase):
    text = generalization_gap(data_of(showcase, "default")).markdown
    rows = [
        line
        for line in text.splitlines()
        if line.startswith("| default") or line.startswith("| small_data")
    ]
    assert len(rows) == 3  # defaults, tuned, small_data
    # the unregularized baseline only: train 99 vs val ~95 in default, 100 vs ~93 in small_data
    assert re.search(
        r"\| default +\| defaults +\| mnist +\| +16 \| +99\.00 \| +9[67]\.\d\d \|", text
    )
    assert re.search(
        r"\| small_data +\| +\| mnist +\| +3 \| +100\.00 \| +9[23]\.\d\d \| "
        r"+[67]\.\d\d",
        text,
    )


def test_seed_variance_per_stream_beside_the_test_set_se(showcase):
    text = seed_variance(data_of(showcase, "variance")).markdown
    table = {
        cells[1]: cells
        for cells in (
            [c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines()
            if line.startswith("| mnist")
        )
    }
    assert set(table) == {"all", "init", "order"}
    assert table["all"][2] == "6" and table["init"][2] == "6"  # 5 values + the all-zero run
    assert float(table["init"][3]) > 2 * float(table["order"][3])
    se = 100 * math.sqrt(0.97 * 0.03 / 10100)  # the confusion matrix holds 10,100 test images
    assert float(table["order"][5]) == pytest.approx(se, abs=2e-3)
    low, high = map(float, table["init"][4].strip("[]").split(", "))
    assert low < float(table["init"][3]) < high


def test_the_default_report_shows_the_variance_grids_attribution(showcase):
    own = seed_variance(data_of(showcase, "variance"))
    shown = seed_variance(data_of(showcase, "default"))
    assert "From the `variance` grid" in shown.markdown
    assert "figures/default/seed_variance.png" in shown.markdown
    table = [line for line in own.markdown.splitlines() if line.startswith("| ")]
    assert table and all(line in shown.markdown for line in table)  # the same numbers


def test_std_ci_matches_numpy_and_brackets_the_estimate():
    values = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.3, 0.7])
    weights = bootstrap_weights([()] * len(values), np.random.default_rng(0))
    sd, low, high, method = std_ci(values, weights)
    assert sd == pytest.approx(values.std(ddof=1))
    assert low < sd < high and method in ("BCa", "percentile")
    sd, low, high, method = std_ci(values[:1], None)
    assert math.isnan(sd) and math.isnan(low) and math.isnan(high) and method == "n/a"


def test_algoperf_counts_misses_as_infinity_in_the_median(showcase):
    text = anchor(data_of(showcase, "algoperf")).markdown
    assert re.search(r"\| sgd +\| 0\.3 +\| +3 \| +2 \| +inf +\| +inf +\| no ", text), text
    assert re.search(r"\| adam +\| 0\.001 +\| +3 \| +1 \| +11\.00 \| +5\.00 \| yes ", text), text
    assert "0.97" in text and "60 s budget" in text


def test_showcase_wall_time_sums_sittings_without_the_gaps(showcase):
    starts = pd.to_datetime(["2026-11-22T09:00", "2026-11-22T09:05", "2026-11-22T13:00"])
    finishes = starts + pd.Timedelta(minutes=10)
    spans = sittings(starts, finishes)
    assert list(spans["runs"]) == [2, 1] and spans["minutes"].sum() == pytest.approx(25.0)
    header = render(showcase, "default").split("## Runs")[1].split("## Summary")[0]
    line = next(x for x in header.splitlines() if "Showcase wall time" in x)
    # tuning runs 08:59-09:00; default's final runs, variance and algoperf 09:59-10:03;
    # small_data's final runs 13:59-14:00: three sittings, 1 + 4 + 1 minutes
    assert "6.0 min against the 180 min budget (" in line and "; within it)" in line, line
    assert "in 3 sittings" in line and "default, small_data, variance, algoperf" in line
    assert "of which 15 tuning runs" in line  # 4 cells x 3 in default, 3 in small_data


def test_the_choice_compares_validation_accuracy_on_one_validation_set(tmp_path):
    """A configuration judged on a smaller validation set (the refit grid's 59,000-image runs,
    1,000 held out) takes no part in the summary's choice, however high its accuracy there,
    and the summary says so."""
    grid = Grid(tmp_path / "results", "refit")
    for seed in range(3):
        for label, val_size, acc in [("50,000", None, 0.90), ("59,000", 1000, 0.95)]:
            labels = {"dataset": "mnist", "training images": label, "seed": str(seed)}
            config = {"dataset": "mnist", "seed": seed, "val_size": val_size}
            grid.record(f"{label}-{seed}", labels, config, acc)
    grid.save()
    data = data_of(tmp_path, "refit")
    best, second = data.choices["mnist"]
    assert best["training images"] == "50,000" and second is None
    assert data.left_out_of_choice("mnist") == {1000: 1}
    assert (
        "On mnist, the configurations validated on fewer images than 10,000 (1 on 1,000) "
        "took no part in the choice"
    ) in render(tmp_path, "refit")


def test_the_report_knows_no_grid_by_name_only_what_the_study_declares(showcase):
    """A grid's sections follow its declaration: the showcase's anchor grid renders none without
    one, and the same runs under any other name render it when declared."""
    import shutil

    results, reports = showcase / "results", showcase / "reports"
    plain = render_report("algoperf", results, reports, showcase / "data").read_text()
    assert "## AlgoPerf anchor" not in plain and "## Baselines" not in plain
    shutil.copytree(results / "algoperf", results / "my_runs")
    declared = report_needs(
        "my_runs",
        {
            "anchor": {"title": "My anchor", "workload": "My workload", "budget_s": 9.0},
            "references": ["algoperf"],
        },
    )
    text = render_report("my_runs", results, reports, showcase / "data", declared).read_text()
    assert "## My anchor" in text and "My workload as run here" in text
    assert "within 9 s" in text and "Grid `algoperf`" in text


@pytest.mark.parametrize(
    "declaration, problem",
    [
        ({"anchors": {}}, "unknown key 'anchors'; valid keys: references, published"),
        ({"references": "baselines"}, "references must be a list"),
        ({"anchor": {"title": "x"}}, "anchor needs exactly the keys budget_s, title, workload"),
    ],
)
def test_a_bad_report_declaration_is_one_line_naming_it(declaration, problem):
    from ablations.analysis.report.needs import NeedsError

    with pytest.raises(NeedsError, match=re.escape(problem)):
        report_needs("g", declaration)
