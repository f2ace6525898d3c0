"""The report's decisions on synthetic grids: a planted 1-point effect is found, and over many
null grids Holm keeps the family-wise false positive rate at 5%."""
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ablations.report.contrasts import contrast_family
from ablations.report.findings import contrast_findings
from ablations.report.frame import ReportData

OPTIMIZERS, ACTIVATIONS = ["sgd", "adam", "rmsprop"], ["tanh", "relu"]


def synthetic_data(seed, planted=0.0, seeds=3, noise=0.2):
    """ReportData of optimizer x activation x 2 datasets x seeds; accuracy in points = a
    random dataset level + `planted` points for adam + seed noise (sd `noise` points)."""
    rng = np.random.default_rng(seed)
    rows = []
    for dataset in ["mnist", "fashion_mnist"]:
        level = 90 + rng.normal(0, 3.0)
        for opt, act, s in itertools.product(OPTIMIZERS, ACTIVATIONS, range(seeds)):
            points = level + planted * (opt == "adam") + rng.normal(0, noise)
            rows.append({"run_id": f"{dataset}-{opt}-{act}-{s}", "dataset": dataset, "seed": s,
                         "optimizer": opt, "activation": act, "status": "ok",
                         "test_acc": points / 100, "s_per_epoch": 1.0})
    return ReportData("synthetic", pd.DataFrame(rows), ("optimizer", "activation"), {}, {},
                      Path("."), Path("."))


def test_a_planted_one_point_effect_is_detected_and_stated():
    data = synthetic_data(0, planted=1.0, seeds=5)
    family = contrast_family(data)
    adam = family[family["level"] == "adam"]
    assert adam["significant"].all() and np.allclose(adam["mean"], 1.0, atol=0.3)
    assert not family[family["level"] != "adam"]["significant"].any()
    text = " ".join(contrast_findings(data))
    assert "`adam` beats `sgd` by +" in text
    assert "`rmsprop` is not distinguishable from `sgd` (no effect larger than" in text


def test_holm_keeps_the_family_wise_error_rate_on_null_grids():
    """200 null grids, 6 contrasts each (2 datasets x (2 optimizers + 1 activation)), 5 seeds:
    the share of grids with any Holm-significant contrast is <= 5% within 2 simulation SEs."""
    grids = 200
    false_alarms = sum(contrast_family(synthetic_data(seed, seeds=5), resamples=200)
                       ["significant"].any() for seed in range(grids))
    rate, se = false_alarms / grids, np.sqrt(0.05 * 0.95 / grids)
    assert rate <= 0.05 + 2 * se, rate
