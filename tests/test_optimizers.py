"""Optimizers: one row each (the optax style) drives every test here: two steps against values
worked out by hand, convergence on a quadratic, and 95% on digits.

A registered optimizer without a row fails `test_every_optimizer_has_a_row`, which says what
to add.
"""

from typing import NamedTuple

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nn_core import MLP, OPTIMIZERS, fit

P0, G = [1.0, -2.0], [0.5, 0.1]


class Row(NamedTuple):
    kwargs: dict  # for the hand steps; eps=0 so the hand values are exact
    after_one: list  # params after one step from P0 with the constant gradient G
    after_two: list  # ... and after a second step
    quadratic: tuple  # (kwargs, steps) that take f(p) = (p1^2 + 10 p2^2) / 2 from (1, -1)
    # to within 1e-3 of 0
    digits_lr: float  # a learning rate that reaches 95% test accuracy on digits in 25 epochs


OPTIMIZER_ROWS = {  # e.g. adam's first two steps both move lr * sign(g)
    "sgd": Row({"lr": 0.1}, [0.95, -2.01], [0.90, -2.02], ({"lr": 0.05}, 300), 0.1),
    "momentum": Row(
        {"lr": 0.1, "momentum": 0.9},
        [0.95, -2.01],
        [0.855, -2.029],  # buf: g, 1.9g
        ({"lr": 0.02, "momentum": 0.9}, 300),
        0.05,
    ),
    "nesterov": Row(
        {"lr": 0.1, "momentum": 0.9},
        [0.905, -2.019],
        [0.7695, -2.0461],  # g + .9 buf
        ({"lr": 0.02, "momentum": 0.9}, 300),
        0.05,
    ),
    "momentum_ema": Row(
        {"lr": 0.1, "momentum": 0.9},
        [0.995, -2.001],
        [0.9855, -2.0029],  # v: .1g, .19g
        ({"lr": 0.1, "momentum": 0.9}, 400),
        0.3,
    ),
    "adagrad": Row(
        {"lr": 0.1, "eps": 0.0},
        [0.9, -2.1],
        [0.8292893219, -2.1707106781],  # .1/sqrt 2
        ({"lr": 0.5}, 500),
        0.05,
    ),
    "rmsprop": Row(
        {"lr": 0.01, "alpha": 0.99, "eps": 0.0},
        [0.9, -2.1],
        [0.8291118795, -2.1708881205],  # v = .0199 g^2 at step 2
        ({"lr": 0.01}, 500),
        1e-3,
    ),
    "adam": Row(
        {"lr": 1e-3, "eps": 0.0}, [0.999, -2.001], [0.998, -2.002], ({"lr": 0.05}, 500), 1e-3
    ),
    "adamw": Row(
        {"lr": 1e-3, "eps": 0.0, "weight_decay": 0.01},
        [0.99899, -2.00098],
        [0.9979800101, -2.0019599902],  # p (1 - 1e-5), then adam
        ({"lr": 0.05}, 500),
        1e-3,
    ),
}


def test_every_optimizer_has_a_row():
    missing = sorted(set(OPTIMIZERS) - set(OPTIMIZER_ROWS))
    assert not missing, (
        f"add a row to OPTIMIZER_ROWS in tests/test_optimizers.py for {', '.join(missing)}: "
        f"Row(kwargs, params after one and two steps from {P0} with the constant gradient {G} "
        f"worked out by hand, (kwargs, steps) for the quadratic, a learning rate for digits)"
    )
    assert set(OPTIMIZER_ROWS) <= set(OPTIMIZERS), "a row for an optimizer that is not registered"


@pytest.mark.parametrize("name", sorted(OPTIMIZER_ROWS))
def test_two_steps_match_hand_values(name):
    kwargs, after_one, after_two = OPTIMIZER_ROWS[name][:3]
    opt = OPTIMIZERS.create(name, **kwargs)
    p, g = np.array(P0), np.array(G)
    opt.step([p], [g])
    np.testing.assert_allclose(p, after_one, rtol=0, atol=1e-9)
    opt.step([p], [g])
    np.testing.assert_allclose(p, after_two, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(g, G)  # the gradient is read, never modified


@pytest.mark.parametrize("name", sorted(OPTIMIZER_ROWS))
def test_drives_quadratic_to_its_minimum(name):
    kwargs, steps = OPTIMIZER_ROWS[name].quadratic
    curvature = np.array([1.0, 10.0])
    p = np.array([1.0, -1.0])
    opt = OPTIMIZERS.create(name, **kwargs)
    for _ in range(steps):
        opt.step([p], [curvature * p])
    assert np.abs(p).max() < 1e-3


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_ROWS))
def test_reaches_95_percent_on_digits(name, digits):
    X_train, X_test, y_train, y_test = digits
    rng = np.random.default_rng(0)
    model = MLP([64, 32, 10], rng)
    history = fit(
        model,
        X_train,
        y_train,
        rng=rng,
        epochs=25,
        batch_size=32,
        X_val=X_test,
        y_val=y_test,
        optimizer=OPTIMIZERS.create(name, lr=OPTIMIZER_ROWS[name].digits_lr),
    )
    assert not history.diverged
    assert model.evaluate(X_test, y_test)[1] >= 0.95
    assert history.train_loss[-1] < history.train_loss[0]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_keeps_float32(name):
    p, g = np.ones(5, np.float32), np.full(5, 0.5, np.float32)
    opt = OPTIMIZERS.create(name)
    opt.step([p], [g])
    assert p.dtype == np.float32 and (p < 1).all()


def test_adamw_decays_only_arrays_marked_for_decay():
    weights, biases = np.ones(3), np.ones(3)
    opt = OPTIMIZERS.create("adamw", lr=0.1, weight_decay=0.5)
    opt.step([weights, biases], [np.zeros(3), np.zeros(3)], decay=[True, False])
    np.testing.assert_allclose(weights, 0.95)
    np.testing.assert_allclose(biases, 1.0)


def test_state_is_per_array():
    opt = OPTIMIZERS.create("momentum", lr=1.0, momentum=0.5)
    a, b = np.zeros(2), np.zeros(2)
    opt.step([a, b], [np.ones(2), -np.ones(2)])
    opt.step([a, b], [np.ones(2), -np.ones(2)])
    np.testing.assert_allclose(a, -2.5)  # 1 + 1.5
    np.testing.assert_allclose(b, 2.5)
