"""The regularizers' settings in the grid language, read from their own declarations.

Every REGULARIZERS entry (nn_core/regularizers.py) declares its settings and where it plugs in.
`follow_regularizers(SCHEMA)` makes those settings SCHEMA rows (a plugin's too, when it
registers), and `regularizer_conflict` asks each of them whether a config is valid. What they
build for a run is ablations/train/regularization.py. A new regularizer is one registered class
and a grid level: nothing here changes.
"""

from nn_core import REGULARIZERS


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
