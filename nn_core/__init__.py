"""nn_core: a minimal, gradient-checked MLP library in numpy alone.

Registries (one per component kind; add an entry with `@REGISTRY.register("name")`):
ACTIVATIONS, LOSSES, INITIALIZERS, OPTIMIZERS, REGULARIZERS, SCHEDULES.
"""

from .activations import ACTIVATIONS
from .augment import RandomShiftRotateFlip
from .initializers import INITIALIZERS
from .layers import Dense, Dropout
from .losses import LOSSES
from .model import MLP, one_hot
from .optimizers import OPTIMIZERS
from .registry import Registry, UnknownNameError
from .regularizers import REGULARIZERS
from .schedules import SCHEDULES
from .train import History, fit

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "OPTIMIZERS",
    "REGULARIZERS",
    "SCHEDULES",
    "Dense",
    "Dropout",
    "History",
    "MLP",
    "RandomShiftRotateFlip",
    "Registry",
    "UnknownNameError",
    "fit",
    "one_hot",
]
