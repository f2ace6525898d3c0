"""A run's settings: one flat, JSON-serializable dict, checked against SCHEMA before any training.

`resolve(settings)` fills defaults, moves optimizer hyperparameters (any argument of the chosen
optimizer's constructor, e.g. `momentum`, `beta2`) into `optimizer_params`, and rejects unknown
keys, wrong types, out-of-range numbers and unknown registry names with a one-line GridError.
`run_id(config)` is a stable hash of the resolved settings that differ from their defaults: a
record's name and its identity.
"""
import hashlib
import inspect
import json
import math
from dataclasses import dataclass
from typing import Callable

from nn_core import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, SCHEDULES
from nn_core.registry import unknown_name_message

from .datasets import DATASETS, NORMALIZATIONS
from .streams import STREAMS, stream_setting
from .trainers import TRAINERS


class GridError(ValueError):
    """A grid entry or argument is invalid; `str()` is one line naming it and the valid choices."""


def _registry(registry):
    def check(value):
        if value not in registry:
            return unknown_name_message(registry.kind, value, registry)
        return None
    return check


def _number(low=None, high=None, low_open=False, high_open=False):
    def check(value):
        if not math.isfinite(value):
            return f"must be finite, got {value}"
        if low is not None and (value < low or (low_open and value == low)):
            return f"must be {'>' if low_open else '>='} {low}, got {value}"
        if high is not None and (value > high or (high_open and value == high)):
            return f"must be {'<' if high_open else '<='} {high}, got {value}"
        return None
    return check


def _positive_int_list(value):
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        return f"must be a list of positive integers, got {value}"
    return None


@dataclass(frozen=True)
class Setting:
    default: object
    types: tuple  # accepted Python types (int is accepted where float is)
    check: Callable = None  # value -> error message or None
    optional: bool = False  # None allowed
    help: str = ""


SCHEMA = {
    "trainer": Setting("nn_core", (str,), _registry(TRAINERS), help="what trains the model"),
    "dataset": Setting("digits", (str,), _registry(DATASETS)),
    "seed": Setting(0, (int,), _number(0), help="every random stream whose own seed is None"),
    **{stream_setting(stream): Setting(None, (int,), _number(0), optional=True,
                                       help=f"{what}; None: the run's seed")
       for stream, (_, what) in STREAMS.items()},
    "hidden": Setting([128], (list,), _positive_int_list, help="hidden layer widths"),
    "activation": Setting("relu", (str,), _registry(ACTIVATIONS)),
    "loss": Setting("softmax_cross_entropy", (str,), _registry(LOSSES)),
    "init": Setting(None, (str,), _registry(INITIALIZERS), optional=True,
                    help="None: the activation's default"),
    "optimizer": Setting("adam", (str,), _registry(OPTIMIZERS)),
    "lr": Setting(1e-3, (float,), _number(0, low_open=True)),
    "optimizer_params": Setting({}, (dict,), help="filled from the optimizer's own arguments"),
    "epochs": Setting(10, (int,), _number(1)),
    "batch_size": Setting(128, (int,), _number(1)),
    "schedule": Setting("constant", (str,), _registry(SCHEDULES)),
    "warmup_epochs": Setting(0.0, (float,), _number(0)),
    "l2": Setting(0.0, (float,), _number(0), help="coupled L2 on weights"),
    "decoupled_weight_decay": Setting(0.0, (float,), _number(0)),
    "dropout": Setting(0.0, (float,), _number(0, 1, high_open=True)),
    "input_dropout": Setting(0.0, (float,), _number(0, 1, high_open=True),
                             help="dropout on the input pixels"),
    "label_smoothing": Setting(0.0, (float,), _number(0, 1, high_open=True),
                               help="targets (1 - eps) one-hot + eps / classes"),
    "augment_shift": Setting(0, (int,), _number(0, 10), help="max random shift in pixels"),
    "augment_degrees": Setting(0.0, (float,), _number(0, 180), help="max random rotation"),
    "augment_flip": Setting(False, (bool,), help="mirror left-right with probability 1/2"),
    "clip_norm": Setting(None, (float,), _number(0, low_open=True), optional=True),
    "patience": Setting(None, (int,), _number(1), optional=True, help="early stopping"),
    "train_size": Setting(None, (int,), _number(1), optional=True, help="subsample the train split"),
    "val_size": Setting(None, (int,), _number(1), optional=True, help="None: the dataset's"),
    "normalize": Setting("none", (str,), _registry(NORMALIZATIONS),
                         help="none: [0, 1]; global or per_pixel training mean and std"),
}

# Settings of older SCHEMAs -> the same meaning in today's settings (records.migrate_records).
LEGACY_SETTINGS = {
    "standardize": lambda value: {"normalize": "per_pixel" if value else "none"},
}


def upgrade_config(config):
    """A config written under an older SCHEMA, in today's settings (same meaning)."""
    config = dict(config)
    for key, translate in LEGACY_SETTINGS.items():
        if key in config:
            config.update(translate(config.pop(key)))
    return config


def _type_ok(value, types):
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def optimizer_arguments(name):
    """The hyperparameters the optimizer `name` accepts besides lr, with their defaults."""
    params = inspect.signature(OPTIMIZERS[name]).parameters
    return {k: p.default for k, p in params.items() if k != "lr"}


def resolve(settings, where="run"):
    """Validated settings with every default filled in; raises GridError naming `where`."""
    settings = dict(settings)
    optimizer = settings.get("optimizer", SCHEMA["optimizer"].default)
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise GridError(f"{where}: optimizer: " + (
            unknown_name_message("optimizer", optimizer, OPTIMIZERS)
            if isinstance(optimizer, str) else f"must be a name, got {optimizer!r}"))
    extra = optimizer_arguments(optimizer)
    optimizer_params = settings.pop("optimizer_params", None) or {}
    if not isinstance(optimizer_params, dict):
        raise GridError(f"{where}: optimizer_params must be a dict, got {optimizer_params!r}")
    optimizer_params = dict(optimizer_params)
    for key in list(settings):
        if key in extra and key not in SCHEMA:
            optimizer_params[key] = settings.pop(key)
    for key in sorted(set(settings) & set(LEGACY_SETTINGS)):
        today = ", ".join(f"{k}={v!r}" for k, v in LEGACY_SETTINGS[key](settings[key]).items())
        raise GridError(f"{where}: {key!r} is retired; {key}={settings[key]!r} is now {today}")
    unknown = sorted(set(settings) - set(SCHEMA))
    if unknown:
        valid = sorted(set(SCHEMA) - {"optimizer_params"} | set(extra))
        raise GridError(f"{where}: " + unknown_name_message("key", unknown[0], valid))
    config = {}
    for key, setting in SCHEMA.items():
        value = settings.get(key, setting.default)
        if value is None and setting.optional:
            config[key] = None
            continue
        if not _type_ok(value, setting.types):
            names = " or ".join(t.__name__ for t in setting.types)
            raise GridError(f"{where}: {key} must be {names}, got {value!r}")
        problem = setting.check(value) if setting.check else None
        if problem:
            raise GridError(f"{where}: {key}: {problem}")
        config[key] = float(value) if float in setting.types else value
    for key, value in optimizer_params.items():
        if key not in extra:
            raise GridError(f"{where}: " + unknown_name_message(
                f"argument of optimizer {optimizer!r}", key, extra))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise GridError(f"{where}: {key} must be a finite number, got {value!r}")
    config["optimizer_params"] = {k: float(v) for k, v in sorted(optimizer_params.items())}
    if config["label_smoothing"] and config["loss"] != "softmax_cross_entropy":
        raise GridError(f"{where}: label_smoothing needs loss 'softmax_cross_entropy', "
                        f"got {config['loss']!r}")
    ignored = TRAINERS[config["trainer"]].ignored(
        config, {k: s.default for k, s in SCHEMA.items()}, extra)
    if ignored:
        raise GridError(f"{where}: trainer {config['trainer']!r} ignores the setting {ignored[0]!r}; "
                        f"leave it at its default or use trainer 'nn_core'")
    return config


def run_id(config):
    """First 16 hex digits of the SHA-256 of the canonical JSON of a resolved config, leaving out
    the settings at their SCHEMA default. A setting added to SCHEMA (with a default) thus keeps
    every existing run's id, and only the runs that set it train. Changing an existing default
    would silently reuse the records of runs that relied on it, so tests/test_grid.py pins them."""
    identity = {key: value for key, value in config.items()
                if key not in SCHEMA or value != SCHEMA[key].default}
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
