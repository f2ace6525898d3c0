"""What a run's settings switch on, built for training: `regularization(config, splits)` builds
the regularizers `config` switches on (their settings are SCHEMA rows: ablations/grid/
regularization.py), in registry order: fit's hooks (PENALTY ones, then GRADIENT ones: clipping
sees the penalized gradient), MLP keywords, and fit's batch_transform (DATA ones, applied in
turn).
"""

from dataclasses import dataclass
from typing import Callable

from nn_core import REGULARIZERS
from nn_core.regularizers import DATA, GRADIENT, MODEL, PENALTY


@dataclass(frozen=True)
class Regularization:
    """What a config switches on: fit's hooks, MLP keywords and fit's batch_transform (or None)."""

    hooks: list
    model_kwargs: dict
    batch_transform: Callable = None


@dataclass(frozen=True)
class Chain:
    """Batch transforms applied in turn: (X_batch, rng) -> X_batch."""

    transforms: tuple

    def __call__(self, batch, rng):
        for transform in self.transforms:
            batch = transform(batch, rng)
        return batch


def regularization(config, splits):
    """The regularizers that `config` switches on, built (DATA ones with `splits`' image shape
    and normalization), sorted into where they plug in."""
    on = [
        regularizer.from_settings(config, splits)
        for regularizer in REGULARIZERS.values()
        if regularizer.is_on(config)
    ]
    transforms = [r for r in on if r.into == DATA]
    return Regularization(
        hooks=[r for r in on if r.into == PENALTY] + [r for r in on if r.into == GRADIENT],
        model_kwargs={k: v for r in on if r.into == MODEL for k, v in r.model_kwargs().items()},
        batch_transform=(
            None
            if not transforms
            else transforms[0]
            if len(transforms) == 1
            else Chain(tuple(transforms))
        ),
    )
