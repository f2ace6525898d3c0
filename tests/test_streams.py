"""Seed streams: each source of randomness has its own generator, and changing one stream's seed
leaves every other stream's draws as they were."""

import numpy as np
import pytest

from ablations.train import trainers
from ablations.grid.config import resolve, run_id
from ablations.data.datasets import load_splits
from ablations.train.streams import STREAMS, split_seed, stream_rng, stream_setting

REAL_FIT = trainers.fit
BASE = {
    "dataset": "digits",
    "hidden": [16],
    "epochs": 1,
    "batch_size": 64,
    "dropout": 0.2,
    "augment_shift": 1,
    "seed": 3,
}


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits")


def drawn(settings, splits, monkeypatch):
    """What each stream gave one nn_core run: initial weights, the first batch order, the first
    noise draws (the generators fit receives, read before it uses them), and the split seed."""
    seen = {}

    def spy(model, X, y, *, rng, noise_rng, **kwargs):
        seen["init"] = model.params_flat.copy()
        seen["order"] = rng.bit_generator.state["state"]["state"]
        seen["noise"] = noise_rng.bit_generator.state["state"]["state"]
        return REAL_FIT(model, X, y, rng=rng, noise_rng=noise_rng, **kwargs)

    monkeypatch.setattr(trainers, "fit", spy)
    config = resolve({**BASE, **settings})
    trainers.train_nn_core(config, splits)
    seen["split"] = split_seed(config)
    return seen


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_changing_one_stream_leaves_the_others_unchanged(stream, splits, monkeypatch):
    reference = drawn({}, splits, monkeypatch)
    changed = drawn({stream_setting(stream): 4}, splits, monkeypatch)
    for other in STREAMS:
        same = np.array_equal(reference[other], changed[other])
        assert same == (other != stream), f"{stream_setting(stream)} changed: {other} {same}"


def test_init_seed_changed_batch_order_identical_and_vice_versa(splits, monkeypatch):
    """The issue's test, on the batches fit actually trains on."""
    orders = {}

    def spy(model, X, y, *, rng, noise_rng, **kwargs):
        orders[key] = (model.params_flat.copy(), rng.permutation(len(X)))
        return REAL_FIT(model, X, y, rng=rng, noise_rng=noise_rng, **kwargs)

    monkeypatch.setattr(trainers, "fit", spy)
    for key, settings in [("base", {}), ("init", {"init_seed": 9}), ("order", {"order_seed": 9})]:
        trainers.train_nn_core(resolve({**BASE, **settings}), splits)
    np.testing.assert_array_equal(orders["base"][1], orders["init"][1])
    assert not np.array_equal(orders["base"][0], orders["init"][0])
    np.testing.assert_array_equal(orders["base"][0], orders["order"][0])
    assert not np.array_equal(orders["base"][1], orders["order"][1])


def test_a_stream_left_unset_follows_the_run_seed():
    for stream in STREAMS:
        a = stream_rng(resolve({"seed": 5}), stream).random(3)
        b = stream_rng(resolve({"seed": 0, stream_setting(stream): 5}), stream).random(3)
        np.testing.assert_array_equal(a, b)


def test_streams_with_equal_values_draw_independent_numbers():
    config = resolve({"seed": 0})
    firsts = {stream: stream_rng(config, stream).random() for stream in STREAMS}
    assert len(set(firsts.values())) == len(STREAMS)


def test_the_split_stream_moves_the_validation_split():
    a = load_splits("digits", split_seed=split_seed(resolve({"seed": 0})))
    b = load_splits("digits", split_seed=split_seed(resolve({"seed": 0, "split_seed": 1})))
    assert not np.array_equal(a.y_val, b.y_val)
    np.testing.assert_array_equal(a.y_test, b.y_test)  # the test set never moves


def test_stream_settings_at_their_default_keep_run_ids():
    assert run_id(resolve({"seed": 2})) == run_id(resolve({"seed": 2, "init_seed": None}))
    assert run_id(resolve({"seed": 2})) != run_id(resolve({"seed": 2, "init_seed": 2}))
