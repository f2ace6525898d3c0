"""The report's decisions on synthetic grids with planted structure: each finding answers the
question its test answers (across settings, or on average over these settings and where), Holm
keeps the family-wise error at 5% for each question, a regime change is an interaction, and the
printed MDE is the effect the rule in use detects 80% of the time."""

import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ablations.analysis.report.contrasts import ACROSS, ALPHA, AVERAGE, NONE
from ablations.analysis.report.findings import change_findings, contrast_findings
from ablations.analysis.report.frame import RECORD_FIELDS, ReportData

ACTIVATIONS = [f"a{i}" for i in range(5)]
REGULARIZERS = ["none", "l2", "dropout", "augment"]


def synthetic_data(rng, effect, levels, seeds=5, noise=0.1, regime=None):
    """ReportData, one dataset: optimizer (sgd, adam) x the other factors' `levels` ({factor:
    levels}) x seeds; accuracy in points = 90 + effect(cell) for adam + noise (sd `noise`
    points per run). `regime`: a label column of that name on every run."""
    rows = []
    others = list(levels)
    for opt in ["sgd", "adam"]:
        for cell in itertools.product(*levels.values()):
            for seed in range(seeds):
                points = (
                    90
                    + (effect(dict(zip(others, cell))) if opt == "adam" else 0.0)
                    + rng.normal(0, noise)
                )
                rows.append(
                    {
                        "run_id": f"{regime}-{opt}-{cell}-{seed}",
                        "dataset": "mnist",
                        "seed": seed,
                        **({"regime": regime} if regime else {}),
                        "optimizer": opt,
                        **dict(zip(others, cell)),
                        "status": "ok",
                        "test_acc": points / 100,
                        "final_val_acc": points / 100,
                        "s_per_epoch": 1.0,
                    }
                )
    return pd.DataFrame(rows)


RUN_COLUMNS = ("run_id", "dataset", "seed", "s_per_epoch", "n_test", "n_val", *RECORD_FIELDS)


def report_data(frame):
    """ReportData over `frame` with a real frame's columns: the record fields it lacks nan, and
    1000 validation images per run (frame.load_frame's n_val)."""
    frame = frame.assign(
        **{f: np.nan for f in RECORD_FIELDS if f not in frame}, n_test=1000, n_val=1000
    )
    factors = tuple(c for c in frame.columns if c not in RUN_COLUMNS)
    return ReportData(
        "synthetic",
        frame.fillna({f: "none" for f in factors}),
        factors,
        {},
        {},
        Path("."),
        Path("."),
    )


def adam_row(family):
    return family[(family["kind"] == "contrast") & (family["level"] == "adam")].iloc[0]


def test_an_effect_in_one_cell_of_five_is_an_average_concentrated_there_not_general():
    rng = np.random.default_rng(0)
    data = report_data(
        synthetic_data(rng, lambda c: 1.0 * (c["activation"] == "a0"), {"activation": ACTIVATIONS})
    )
    row = adam_row(data.contrasts)
    assert row["verdict"] == AVERAGE and row["delta"] == pytest.approx(0.2, abs=0.05)
    assert row["cells"] == 5 and row["cells_won"] in (1, 2)  # a0, and a null cell at 5%
    text = " ".join(contrast_findings(data))
    assert "`adam` beats `sgd` by +0.2" in text and "on average over these settings" in text
    assert re.search(r"concentrated in activation: a0 \(\+(0\.9|1\.0)", text)  # largest first
    assert "points across settings" not in text


def test_an_effect_in_four_cells_of_twenty_is_never_called_general():
    """Twenty cells can answer the across-settings question, and here it says no."""
    rng = np.random.default_rng(1)
    lives = {("a0", "none"), ("a1", "l2"), ("a2", "dropout"), ("a3", "augment")}
    data = report_data(
        synthetic_data(
            rng,
            lambda c: 1.0 * ((c["activation"], c["regularization"]) in lives),
            {"activation": ACTIVATIONS, "regularization": REGULARIZERS},
        )
    )
    row = adam_row(data.contrasts)
    assert row["cells"] == 20 and row["across_levels"] == (5, 4)  # in Holm's family: 3+ levels
    assert row["verdict"] == AVERAGE and ALPHA <= row["across_p_holm"] < 1
    text = " ".join(contrast_findings(data))
    assert "beyond seed noise in 4 of 20 cells (Holm within the contrast); concentrated in" in text
    assert "activation / regularization: a3 / augment (+1.05), a0 / none (+1.02)" in text
    assert "across settings not shown (random effects, crossed 5 x 4" in text
    assert f"about {row['levels_needed']} levels per factor would be needed" in text


def test_an_effect_in_every_cell_of_twenty_holds_across_settings():
    rng = np.random.default_rng(2)
    data = report_data(
        synthetic_data(
            rng, lambda c: 0.5, {"activation": ACTIVATIONS, "regularization": REGULARIZERS}
        )
    )
    row = adam_row(data.contrasts)
    assert row["verdict"] == ACROSS and row["cells_won"] == 20
    assert "`adam` beats `sgd` by +0.5" in " ".join(contrast_findings(data))
    assert "points across settings (95% CI over cells" in " ".join(contrast_findings(data))


def test_holm_keeps_the_family_wise_error_at_five_percent_for_each_question():
    """200 null grids (optimizer x 4 activations x 4 regularizers, 3 seeds: 7 contrasts of 8
    or 16 cells, so both questions are in the family): the share of grids with any claim is
    <= 5% within 2 simulation SEs, for each question."""
    grids, claims = 200, {"over": 0, "across": 0}
    for seed in range(grids):
        rng = np.random.default_rng(100 + seed)
        family = report_data(
            synthetic_data(
                rng,
                lambda c: 0.0,
                {"activation": ACTIVATIONS[:4], "regularization": REGULARIZERS},
                seeds=3,
            )
        ).contrasts
        assert np.isfinite(family["across_p_holm"]).sum() == 1  # optimizer's 4 x 4 table
        claims["over"] += bool((family["p_holm"] < ALPHA).any())
        claims["across"] += bool((family["across_p_holm"] < ALPHA).any())
    se = np.sqrt(0.05 * 0.95 / grids)
    assert claims["over"] / grids <= 0.05 + 2 * se, claims
    assert claims["across"] / grids <= 0.05 + 2 * se, claims


def test_the_same_effect_in_regimes_of_25_and_100_pairs_is_no_change():
    rng = np.random.default_rng(3)
    small = synthetic_data(rng, lambda c: 0.5, {"activation": ACTIVATIONS}, regime="defaults")
    large = synthetic_data(
        rng,
        lambda c: 0.5,
        {"activation": ACTIVATIONS, "regularization": REGULARIZERS},
        regime="tuned",
    )
    data = report_data(pd.concat([small, large], ignore_index=True))
    family = data.contrasts
    contrasts = family[(family["kind"] == "contrast") & (family["level"] == "adam")]
    assert list(contrasts["pairs"]) == [25, 100]
    assert list(contrasts["verdict"]) == [ACROSS, ACROSS]
    change = family[(family["kind"] == "change") & (family["level"] == "adam")]
    assert len(change) == 1 and change.iloc[0]["cells"] == 5 and change.iloc[0]["verdict"] == NONE
    text = " ".join(change_findings(data))
    assert "no change shown in the gap of `adam` over `sgd` from defaults to tuned" in text
    assert "`adam` over `sgd` is" not in text  # never "larger in" or "smaller in"


def test_the_printed_mde_is_detected_80_percent_of_the_time_by_the_rule_in_use():
    """On one null grid the family prints an MDE for adam; planted at that size in grids of
    the same design with the noise the MDE was computed from, Holm's rule finds it in about 80%
    of 400 grids."""
    levels = {"activation": ACTIVATIONS[:3]}
    row = adam_row(
        report_data(
            synthetic_data(np.random.default_rng(4), lambda c: 0.0, levels, seeds=4, noise=0.2)
        ).contrasts
    )
    s_p = row["se"] * row["cells"] / np.sqrt(row["cells"] / 4)  # SE = s_p sqrt(K / n) / K
    found = []
    for seed in range(400):
        family = report_data(
            synthetic_data(
                np.random.default_rng(1000 + seed),
                lambda c: row["mde"],
                levels,
                seeds=4,
                noise=s_p / np.sqrt(2),
            )
        ).contrasts
        found.append(adam_row(family)["p_holm"] < ALPHA)
    assert np.mean(found) == pytest.approx(0.80, abs=3 * np.sqrt(0.16 / 400))


def test_one_cell_is_answered_in_its_one_setting():
    rng = np.random.default_rng(5)
    frame = synthetic_data(rng, lambda c: 1.0, {})
    data = report_data(frame)
    row = adam_row(data.contrasts)
    assert row["cells"] == 1 and row["verdict"] == AVERAGE
    text = " ".join(contrast_findings(data))
    assert "`adam` beats `sgd` by +1.0" in text and "in its one setting" in text
    assert "across settings" not in text  # one cell answers for itself only
