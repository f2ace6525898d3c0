"""One declarative table from grid settings to the nn_core components that regularize a run.

Each row names a component, the SCHEMA settings that configure it (it is on when any of them is
truthy) and where `train_nn_core` puts it: among fit's `regularizers` hooks (in table order, so
grad_clip stays last: it clips the penalized gradient), as an MLP keyword, or as fit's
`batch_transform`. A new regularizer is one registered class in nn_core/regularizers.py, its
setting in SCHEMA, and one row here; tests/test_regularization.py checks every REGULARIZERS entry
has a row.
"""
from dataclasses import dataclass
from typing import Callable

from nn_core import REGULARIZERS

from .augment import RandomShiftRotateFlip

HOOKS, MODEL, BATCH_TRANSFORM = "hooks", "model", "batch_transform"


@dataclass(frozen=True)
class Row:
    component: str  # a REGULARIZERS name for hooks; the MLP keyword or a description otherwise
    settings: tuple  # the SCHEMA settings that configure it
    into: str  # HOOKS, MODEL or BATCH_TRANSFORM
    make: Callable  # (config, splits) -> the component (for MODEL: the keyword's value)

    def is_on(self, config):
        return any(config[key] for key in self.settings)


def hook(component, setting, argument):
    """A row for the REGULARIZERS entry `component`, built with `argument=config[setting]`."""
    return Row(component, (setting,), HOOKS,
               lambda config, splits: REGULARIZERS.create(component, **{argument: config[setting]}))


def augmentation(config, splits):
    return RandomShiftRotateFlip(splits.image_shape, config["augment_shift"],
                                 config["augment_degrees"], config["augment_flip"],
                                 splits.pixel_mean, splits.pixel_std)


REGULARIZATION_TABLE = (
    hook("l2", "l2", "l2"),
    hook("weight_decay", "decoupled_weight_decay", "weight_decay"),
    hook("grad_clip", "clip_norm", "max_norm"),  # last of the hooks
    Row("dropout", ("dropout",), MODEL, lambda config, splits: config["dropout"]),
    Row("input_dropout", ("input_dropout",), MODEL, lambda config, splits: config["input_dropout"]),
    Row("label_smoothing", ("label_smoothing",), MODEL,
        lambda config, splits: config["label_smoothing"]),
    Row("augment", ("augment_shift", "augment_degrees", "augment_flip"), BATCH_TRANSFORM,
        augmentation),
)


@dataclass(frozen=True)
class Regularization:
    """What a config switches on: fit's hooks, MLP keywords and fit's batch_transform (or None)."""

    hooks: list
    model_kwargs: dict
    batch_transform: Callable = None


def regularization(config, splits):
    """The components of every row of REGULARIZATION_TABLE that `config` switches on."""
    on = [row for row in REGULARIZATION_TABLE if row.is_on(config)]
    transforms = [row.make(config, splits) for row in on if row.into == BATCH_TRANSFORM]
    return Regularization(
        hooks=[row.make(config, splits) for row in on if row.into == HOOKS],
        model_kwargs={row.component: row.make(config, splits) for row in on if row.into == MODEL},
        batch_transform=transforms[0] if transforms else None)
