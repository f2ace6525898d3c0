"""The report's family of contrasts: every level against its factor's baseline, per dataset, on
test accuracy in points, with Holm's adjustment over the whole family (all datasets, factors and
levels), and the paired difference in training seconds per epoch beside it.
"""
import dataclasses

import pandas as pd

from ..stats.paired import Contrast, holm, mean_ci, pair_up, paired_contrast
from .frame import POINTS, REGIME, REPLICATE, SPLIT

ALPHA = 0.05  # family-wise error rate of the findings
METRICS = ["test_acc", "s_per_epoch"]  # contrasted (in points) and timed (s/epoch) per pair


def contrast_family(data, resamples=None):
    """DataFrame, one row per (dataset, regime, factor, level != baseline): the Contrast fields
    (in points of test accuracy), `p_holm`, and `time_mean`, `time_half` (paired difference in
    s/epoch and its 95% t half-width). Within a grid with a regime axis each regime is a split
    of its own, like the dataset (pairs never cross regimes; the baseline is the factor's first
    level in that regime); `regime` is None without one."""
    rows = []
    options = {} if resamples is None else {"resamples": resamples}
    for dataset in data.datasets:
        for regime in data.regimes:
            subset = data.in_regime(data.ok_on(dataset), regime)
            for factor in data.contrasted(regime):
                others = [f for f in data.factors if f != factor]
                base, *levels = data.levels_in(factor, regime)
                pairs_of = pair_up(subset, factor, [REPLICATE, *others], METRICS)
                for level in levels:
                    key = ("contrast", dataset, factor, level) + ((regime,) if regime else ())
                    both = pairs_of(level, base)
                    pairs = both[["test_acc_a", "test_acc_b"]].dropna()
                    strata = [tuple(k[1:]) for k in pairs.index] if others else [()] * len(pairs)
                    contrast = paired_contrast(
                        pairs["test_acc_a"] * POINTS, pairs["test_acc_b"] * POINTS, strata,
                        data.rng(*key), weights=data.bootstrap_weights(strata, **options),
                        **options)
                    times = both[["s_per_epoch_a", "s_per_epoch_b"]].dropna()
                    time_mean, time_half, _ = mean_ci(times["s_per_epoch_a"]
                                                      - times["s_per_epoch_b"])
                    rows.append({SPLIT: dataset, REGIME: regime, "factor": factor,
                                 "level": level, "baseline": base,
                                 **dataclasses.asdict(contrast), "time_mean": time_mean,
                                 "time_half": time_half})
    columns = [SPLIT, REGIME, "factor", "level", "baseline",
               *(f.name for f in dataclasses.fields(Contrast)), "time_mean", "time_half"]
    family = pd.DataFrame(rows, columns=columns)
    family["p_holm"] = holm(family["p"].to_numpy(float)) if len(family) else []
    family["significant"] = family["p_holm"] < ALPHA
    return family


def in_family(family, dataset, regime, factor):
    """The family's rows of one dataset, regime (None: no regime axis) and factor."""
    same_regime = family[REGIME].isna() if regime is None else family[REGIME] == regime
    return family[(family[SPLIT] == dataset) & same_regime & (family["factor"] == factor)]
