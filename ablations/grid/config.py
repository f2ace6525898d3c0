"""A run's settings: one flat, JSON-serializable dict, checked against SCHEMA before any training.

SCHEMA holds the harness's own settings and those each regularizer declares (nn_core/
regularizers.py; ablations/regularization.py collects them). `resolve(settings)` fills defaults,
moves the arguments of the chosen optimizer, activation and schedule (any argument of its
constructor, e.g. `momentum`, `slope`, `gamma`; COMPONENT_ARGUMENTS) into `optimizer_params`,
`activation_params` and `schedule_params`, and rejects unknown keys, wrong types, out-of-range
numbers, unknown registry names and nets too large for this machine's memory (memory.py) with a
one-line GridError. `run_id(config)` is a stable hash
of the resolved settings that differ from their defaults: a record's name and its identity.
"""

import hashlib
import inspect
import json
import math
from dataclasses import dataclass

from nn_core import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, SCHEDULES
from nn_core.registry import Registry, unknown_name_message
from nn_core.settings import Setting, number

from ablations.data.datasets import DATASETS, NORMALIZATIONS
from ablations.records.legacy import LEGACY_SETTINGS
from ablations.train.streams import STREAMS, stream_setting
from ablations.train.trainers import TRAINERS
from .memory import memory_problem
from .regularization import follow_regularizers, regularizer_conflict


class GridError(ValueError):
    """A grid entry or argument is invalid; `str()` is one line naming it and the valid choices."""


def _registry(registry):
    def check(value):
        if value not in registry:
            return unknown_name_message(registry.kind, value, registry)
        return None

    return check


def _positive_int_list(value):
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        return f"must be a list of positive integers, got {value}"
    return None


SCHEMA = {
    "trainer": Setting("nn_core", (str,), _registry(TRAINERS), help="what trains the model"),
    "dataset": Setting("digits", (str,), _registry(DATASETS)),
    "seed": Setting(0, (int,), number(0), help="every random stream whose own seed is None"),
    **{
        stream_setting(stream): Setting(
            None, (int,), number(0), optional=True, help=f"{what}; None: the run's seed"
        )
        for stream, (_, what) in STREAMS.items()
    },
    "hidden": Setting([128], (list,), _positive_int_list, help="hidden layer widths"),
    "activation": Setting("relu", (str,), _registry(ACTIVATIONS)),
    "loss": Setting("softmax_cross_entropy", (str,), _registry(LOSSES)),
    "init": Setting(
        None, (str,), _registry(INITIALIZERS), optional=True, help="None: the activation's default"
    ),
    "optimizer": Setting("adam", (str,), _registry(OPTIMIZERS)),
    "lr": Setting(1e-3, (float,), number(0, low_open=True)),
    "optimizer_params": Setting({}, (dict,), help="filled from the optimizer's own arguments"),
    "epochs": Setting(10, (int,), number(1)),
    "batch_size": Setting(128, (int,), number(1)),
    "schedule": Setting("constant", (str,), _registry(SCHEDULES)),
    "warmup_epochs": Setting(0.0, (float,), number(0)),
    "activation_params": Setting({}, (dict,), help="filled from the activation's own arguments"),
    "schedule_params": Setting({}, (dict,), help="filled from the schedule's own arguments"),
    "patience": Setting(None, (int,), number(1), optional=True, help="early stopping"),
    "train_size": Setting(None, (int,), number(1), optional=True, help="subsample the train split"),
    "val_size": Setting(None, (int,), number(1), optional=True, help="None: the dataset's"),
    "normalize": Setting(
        "none",
        (str,),
        _registry(NORMALIZATIONS),
        help="none: [0, 1]; global or per_pixel training mean and std",
    ),
}
follow_regularizers(SCHEMA)  # the settings each regularizer declares (nn_core/regularizers.py)


def _type_ok(value, types):
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


@dataclass(frozen=True)
class Arguments:
    """A component kind whose constructor arguments a grid may set, as plain settings (`slope`)
    or as a dict under `params` (`activation_params`)."""

    registry: Registry
    params: str  # the config key that holds the arguments
    keep_defaults: bool = False  # keep arguments given at their default (in the run id)


# SCHEMA setting naming the component -> its arguments. Arguments given at their default are
# dropped (they name the same run), except the optimizer's: run ids made before this table name
# them (e.g. the grids' momentum 0.9), and they must not change.
COMPONENT_ARGUMENTS = {
    "optimizer": Arguments(OPTIMIZERS, "optimizer_params", keep_defaults=True),
    "activation": Arguments(ACTIVATIONS, "activation_params"),
    "schedule": Arguments(SCHEDULES, "schedule_params"),
}
PARAMS_KEYS = {kind.params for kind in COMPONENT_ARGUMENTS.values()}


def component_arguments(kind, name):
    """{argument: default} of the `kind` component `name`'s constructor, leaving out SCHEMA
    settings (`lr`, `warmup_epochs`: set as such)."""
    params = inspect.signature(COMPONENT_ARGUMENTS[kind].registry[name]).parameters
    return {
        k: p.default
        for k, p in params.items()
        if k not in SCHEMA and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def _problem(key, value):
    """Why `value` is no valid `key` (a SCHEMA setting), or None."""
    setting = SCHEMA[key]
    if value is None and setting.optional:
        return None
    if not _type_ok(value, setting.types):
        return f"{key} must be {' or '.join(t.__name__ for t in setting.types)}, got {value!r}"
    problem = setting.check(value) if setting.check else None
    return f"{key}: {problem}" if problem else None


def _collect_arguments(settings, where):
    """({kind: {argument: default}} of the chosen components, {kind: {argument: value}} given),
    taking the given ones out of `settings` (as plain keys or under `params`)."""
    accepted, given = {}, {}
    for kind, spec in COMPONENT_ARGUMENTS.items():
        name = settings.get(kind, SCHEMA[kind].default)
        problem = _problem(kind, name)
        if problem:
            raise GridError(f"{where}: {problem}")
        accepted[kind] = component_arguments(kind, name)
        params = settings.pop(spec.params, None) or {}
        if not isinstance(params, dict):
            raise GridError(f"{where}: {spec.params} must be a dict, got {params!r}")
        given[kind] = dict(params)
    for key in [k for k in settings if k not in SCHEMA]:
        owners = [kind for kind in COMPONENT_ARGUMENTS if key in accepted[kind]]
        if len(owners) > 1:
            raise GridError(
                f"{where}: {key!r} is an argument of "
                + " and of ".join(
                    f"{kind} {settings.get(kind, SCHEMA[kind].default)!r}" for kind in owners
                )
                + "; set it in "
                + " or ".join(COMPONENT_ARGUMENTS[k].params for k in owners)
            )
        if owners:
            given[owners[0]][key] = settings.pop(key)
    return accepted, given


def _checked_arguments(where, kind, name, given, accepted):
    """The `params` entry of a resolved config: given arguments as floats, sorted."""
    for key, value in given.items():
        if key not in accepted:
            raise GridError(
                f"{where}: " + unknown_name_message(f"argument of {kind} {name!r}", key, accepted)
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise GridError(f"{where}: {key} must be a finite number, got {value!r}")
    keep = COMPONENT_ARGUMENTS[kind].keep_defaults
    return {k: float(v) for k, v in sorted(given.items()) if keep or v != accepted[k]}


def resolve(settings, where="run"):
    """Validated settings with every default filled in; raises GridError naming `where`."""
    settings = dict(settings)
    accepted, given = _collect_arguments(settings, where)
    for key in sorted(set(settings) & set(LEGACY_SETTINGS)):
        today = ", ".join(f"{k}={v!r}" for k, v in LEGACY_SETTINGS[key](settings[key]).items())
        raise GridError(f"{where}: {key!r} is retired; {key}={settings[key]!r} is now {today}")
    unknown = sorted(set(settings) - set(SCHEMA))
    if unknown:
        valid = (set(SCHEMA) - PARAMS_KEYS).union(*accepted.values())
        owners = [
            f"{kind} {name!r}"
            for kind, spec in COMPONENT_ARGUMENTS.items()
            for name in spec.registry
            if unknown[0] in component_arguments(kind, name)
        ]
        raise GridError(
            f"{where}: "
            + unknown_name_message("key", unknown[0], valid)
            + (f" ({unknown[0]!r} is an argument of {', '.join(owners)})" if owners else "")
        )
    config = {}
    for key, setting in SCHEMA.items():
        value = settings.get(key, setting.default)
        problem = _problem(key, value)
        if problem:
            raise GridError(f"{where}: {problem}")
        config[key] = float(value) if float in setting.types and value is not None else value
    for kind, spec in COMPONENT_ARGUMENTS.items():
        config[spec.params] = _checked_arguments(
            where, kind, config[kind], given[kind], accepted[kind]
        )
    conflict = regularizer_conflict(config) or memory_problem(config)
    if conflict:
        raise GridError(f"{where}: {conflict}")
    ignored = TRAINERS[config["trainer"]].ignored(
        config,
        {k: s.default for k, s in SCHEMA.items()},
        {spec.params: accepted[kind] for kind, spec in COMPONENT_ARGUMENTS.items()},
    )
    if ignored:
        raise GridError(
            f"{where}: trainer {config['trainer']!r} ignores the setting {ignored[0]!r}; "
            f"leave it at its default or use trainer 'nn_core'"
        )
    return config


def non_default(config):
    """The settings of `config` that differ from their SCHEMA default (and any SCHEMA does not
    know): what names a run (`run_id`)."""
    return {
        key: value
        for key, value in config.items()
        if key not in SCHEMA or value != SCHEMA[key].default
    }


def run_id(config):
    """First 16 hex digits of the SHA-256 of the canonical JSON of a resolved config, leaving out
    the settings at their SCHEMA default. A setting added to SCHEMA (with a default) thus keeps
    every existing run's id, and only the runs that set it train. Changing an existing default
    would silently reuse the records of runs that relied on it, so tests/test_grid.py pins them."""
    canonical = json.dumps(non_default(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
