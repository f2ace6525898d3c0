"""What a run's settings switch on, read from the regularizers' own declarations.

Every REGULARIZERS entry (nn_core/regularizers.py) declares its settings and where it plugs in.
`follow_regularizers(SCHEMA)` makes those settings SCHEMA rows (a plugin's too, when it
registers), and `regularization(config, splits)` builds the regularizers `config` switches on,
in registry order: fit's hooks (PENALTY ones, then GRADIENT ones: clipping sees the penalized
gradient), MLP keywords, and fit's batch_transform (DATA ones, applied in turn). A new
regularizer is one registered class and a grid level: nothing here changes.
"""
from dataclasses import dataclass
from typing import Callable

from nn_core import REGULARIZERS
from nn_core.regularizers import DATA, GRADIENT, MODEL, PENALTY


def add_settings(schema, name, regularizer):
    """Add the settings the regularizer `name` declares to `schema`; ValueError for a setting
    that `schema` already holds."""
    taken = sorted(set(regularizer.settings) & set(schema))
    if taken:
        raise ValueError(f"regularizer {name!r} declares the setting {taken[0]!r}, which is taken")
    schema.update(regularizer.settings)


def follow_regularizers(schema):
    """Add every registered regularizer's settings to `schema` now, and every later one's (a
    plugin's) at its registration."""
    for name, regularizer in REGULARIZERS.items():
        add_settings(schema, name, regularizer)
    REGULARIZERS.watch(lambda name, regularizer: add_settings(schema, name, regularizer))


def regularizer_conflict(config):
    """The first registered regularizer's objection to a resolved `config`, or None."""
    return next(filter(None, (r.conflict(config) for r in REGULARIZERS.values())), None)


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
    on = [regularizer.from_settings(config, splits) for regularizer in REGULARIZERS.values()
          if regularizer.is_on(config)]
    transforms = [r for r in on if r.into == DATA]
    return Regularization(
        hooks=[r for r in on if r.into == PENALTY] + [r for r in on if r.into == GRADIENT],
        model_kwargs={k: v for r in on if r.into == MODEL for k, v in r.model_kwargs().items()},
        batch_transform=(None if not transforms else transforms[0] if len(transforms) == 1
                         else Chain(tuple(transforms))))
