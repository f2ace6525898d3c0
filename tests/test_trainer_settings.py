"""Trainers declare the settings they honour; a grid that sets one a trainer ignores is rejected
before anything trains; sklearn_mlp's L2 is the same penalty as nn_core's."""

import warnings

import numpy as np
import pytest

from ablations.grid.config import PARAMS_KEYS, SCHEMA, GridError, resolve
from ablations.train.trainers import SKLEARN_HONOURS, TRAINERS, sklearn_alpha
from nn_core import MLP, OPTIMIZERS, REGULARIZERS, fit
from test_regularization import switched_on

# A valid non-default value for each setting that scikit-learn's MLPClassifier cannot honour:
# every regularizer's (but l2) that its constructor's defaults switch on, and these.
IGNORED_BY_SKLEARN = {
    **{
        key: value
        for name, regularizer in REGULARIZERS.items()
        for key, value in switched_on(regularizer).items()
        if key not in SKLEARN_HONOURS and value
    },
    "schedule": "cosine",
    "warmup_epochs": 1.0,
    "augment_degrees": 5.0,
    "augment_flip": True,
    "init": "he_normal",
    "patience": 3,
    "loss": "mse",
    "init_seed": 1,
    "order_seed": 1,
    "noise_seed": 1,
}  # its random_state is `seed`


def test_every_unhonoured_setting_is_in_the_table_above():
    """A setting added to SCHEMA that sklearn_mlp ignores gets a row here (and is rejected)."""
    assert set(SCHEMA) - SKLEARN_HONOURS - PARAMS_KEYS == set(IGNORED_BY_SKLEARN)


@pytest.mark.parametrize("key", sorted(IGNORED_BY_SKLEARN))
def test_sklearn_mlp_rejects_a_setting_it_ignores(key):
    settings = {"trainer": "sklearn_mlp", key: IGNORED_BY_SKLEARN[key]}
    with pytest.raises(GridError) as info:
        resolve(settings, "grid 'g' run x")
    message = str(info.value)
    assert f"trainer 'sklearn_mlp' ignores the setting {key!r}" in message and "\n" not in message
    resolve({**settings, "trainer": "nn_core"})  # nn_core honours every setting


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-7},  # mapped to beta_1, ...
        {"optimizer": "momentum", "momentum": 0.5},
        {"l2": 1e-4, "schedule": "constant", "dropout": 0.0},  # defaults, even when spelled out
    ],
)
def test_sklearn_mlp_accepts_what_it_honours(settings):
    resolve({"trainer": "sklearn_mlp", **settings})


@pytest.mark.parametrize(
    "settings,argument",
    [
        ({"optimizer": "rmsprop", "alpha": 0.9}, "alpha"),
        ({"activation": "leaky_relu", "slope": 0.1}, "slope"),
        ({"schedule": "step", "gamma": 0.5}, "gamma"),  # the first in order: gamma, schedule
    ],
)
def test_a_component_argument_sklearn_lacks_is_rejected(settings, argument):
    with pytest.raises(GridError, match=f"ignores the setting '{argument}'"):
        resolve({"trainer": "sklearn_mlp", **settings})


def test_nn_core_honours_every_setting_even_future_ones():
    config = resolve({"dropout": 0.3, "clip_norm": 2.0})
    defaults = {k: s.default for k, s in SCHEMA.items()}
    assert TRAINERS["nn_core"].ignored({**config, "a_future_setting": 1}, defaults, {}) == []


def test_sklearn_l2_step_equals_ours():
    """One full-batch SGD step of MLPClassifier (alpha from sklearn_alpha) from the same weights
    gives nn_core's step with coupled L2; alpha = l2 (the old mapping) does not."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    n, lr, l2 = 32, 0.1, 0.05
    X, y = rng.random((n, 5)), np.arange(n) % 3

    def sklearn_step(alpha):
        model = MLPClassifier(
            hidden_layer_sizes=[4],
            solver="sgd",
            momentum=0.0,
            batch_size=n,
            learning_rate_init=lr,
            alpha=alpha,
            shuffle=False,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X, y, classes=[0, 1, 2])  # initializes, takes step 1
            start = [p.copy() for pair in zip(model.coefs_, model.intercepts_) for p in pair]
            model.partial_fit(X, y)  # step 2, from `start`
        return start, [p for pair in zip(model.coefs_, model.intercepts_) for p in pair]

    start, theirs = sklearn_step(sklearn_alpha(l2, n))
    ours = MLP([5, 4, 3], rng)
    for p, value in zip(ours.parameters(), start):
        p[...] = value
    fit(
        ours,
        X,
        y,
        optimizer=OPTIMIZERS.create("sgd", lr=lr),
        rng=rng,
        epochs=1,
        batch_size=n,
        regularizers=[REGULARIZERS.create("l2", l2=l2)],
    )
    for mine, sk in zip(ours.parameters(), theirs):
        np.testing.assert_allclose(mine, sk, atol=2e-6)
    _, unmapped = sklearn_step(l2)
    assert not np.allclose(ours.parameters()[0], unmapped[0], atol=1e-4)
