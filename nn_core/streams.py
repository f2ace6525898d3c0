"""A run's independent random streams, by name: each is drawn from
`np.random.SeedSequence([seed, STREAM_IDS[stream]])`, so streams with equal seeds still draw
independent numbers. The ids are part of every result (the harness's records, the estimator's
fits): never renumber them; a new stream takes a new id. ablations/train/streams.py gives each
its own seed setting; nn_core/sklearn.py seeds them all from `random_state`.
"""

import numpy as np

STREAM_IDS = {"init": 0, "order": 1, "noise": 2, "split": 3}


def stream_sequence(seed, stream):
    """The SeedSequence of `stream` seeded with the int `seed`."""
    return np.random.SeedSequence([seed, STREAM_IDS[stream]])
