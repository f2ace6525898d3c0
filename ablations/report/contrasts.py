"""The report's family of contrasts: every level against its factor's baseline, per dataset, on
test accuracy in points, with Holm's adjustment over the whole family (all datasets, factors and
levels), and the paired difference in training seconds per epoch beside it.
"""
import dataclasses

import pandas as pd

from ..stats.paired import Contrast, holm, mean_ci, paired_contrast, paired_frame
from .frame import POINTS, REPLICATE, SPLIT

ALPHA = 0.05  # family-wise error rate of the findings


def contrast_family(data, resamples=None):
    """DataFrame, one row per (dataset, factor, level != baseline): the Contrast fields (in
    points of test accuracy), `p_holm`, and `time_mean`, `time_half` (paired difference in
    s/epoch and its 95% t half-width)."""
    rows = []
    options = {} if resamples is None else {"resamples": resamples}
    for dataset in data.datasets:
        subset = data.ok_on(dataset)
        for factor in data.compared():
            others = [f for f in data.factors if f != factor]
            base = data.baseline(factor)
            for level in data.levels(factor)[1:]:
                pairs = paired_frame(subset, factor, level, base, "test_acc", [REPLICATE, *others])
                strata = [tuple(key[1:]) for key in pairs.index] if others else [()] * len(pairs)
                contrast = paired_contrast(pairs["a"] * POINTS, pairs["b"] * POINTS, strata,
                                           data.rng("contrast", dataset, factor, level), **options)
                time_pairs = paired_frame(subset, factor, level, base, "s_per_epoch",
                                          [REPLICATE, *others])
                time_mean, time_half, _ = mean_ci(time_pairs["a"] - time_pairs["b"])
                rows.append({SPLIT: dataset, "factor": factor, "level": level, "baseline": base,
                             **dataclasses.asdict(contrast), "time_mean": time_mean,
                             "time_half": time_half})
    columns = [SPLIT, "factor", "level", "baseline",
               *(f.name for f in dataclasses.fields(Contrast)), "time_mean", "time_half"]
    family = pd.DataFrame(rows, columns=columns)
    family["p_holm"] = holm(family["p"].to_numpy(float)) if len(family) else []
    family["significant"] = family["p_holm"] < ALPHA
    return family

