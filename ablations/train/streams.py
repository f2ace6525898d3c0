"""Independent random streams of a run: initial weights, batch order, dropout/augmentation noise,
and the validation split.

Each stream has a setting `<stream>_seed` (SCHEMA; None means the run's `seed`) and its own
generator, `np.random.default_rng(np.random.SeedSequence([value, STREAMS[stream][0]]))`, the ids
being nn_core/streams.py's STREAM_IDS: the stream's id is part of the entropy, so streams with
equal values still draw independent numbers, and changing one stream's value leaves every other stream's draws unchanged (Bouthillier et al. 2021
attribute the seed spread to each source this way). Stream ids are part of every result: never
renumber them; a new stream takes a new id.
"""

import numpy as np

from nn_core.streams import STREAM_IDS, stream_sequence as seeded_sequence

STREAMS = {  # stream -> (id in the SeedSequence, what it draws)
    stream: (STREAM_IDS[stream], what)
    for stream, what in {
        "init": "initial weights",
        "order": "batch order",
        "noise": "dropout masks and augmentation",
        "split": "validation split and train_size subsample",
    }.items()
}


def stream_setting(stream):
    """The SCHEMA key of `stream`'s seed, e.g. "init_seed"."""
    return f"{stream}_seed"


def stream_value(config, stream):
    """The value seeding `stream` in a resolved config: its own setting, else the run's seed."""
    value = config.get(stream_setting(stream))
    return config["seed"] if value is None else value


def stream_sequence(config, stream):
    return seeded_sequence(stream_value(config, stream), stream)


def stream_rng(config, stream):
    """A fresh np.random.Generator for `stream` of the run `config`."""
    return np.random.default_rng(stream_sequence(config, stream))


def split_seed(config):
    """A 32-bit integer from the split stream, for scikit-learn's `random_state`."""
    return int(stream_sequence(config, "split").generate_state(1)[0])
