"""Optimizers: two steps against values worked out by hand, and convergence on a quadratic.

Both tables have one row per registered optimizer; a new entry without rows fails
`test_every_optimizer_has_rows`.
"""
import numpy as np
import pytest

from nn_core import OPTIMIZERS

P0, G = [1.0, -2.0], [0.5, 0.1]

# name: (kwargs, params after step 1, params after step 2), with the constant gradient G.
# eps=0 so the hand values are exact: e.g. adam's first two steps both move lr * sign(g).
HAND_STEPS = {
    "sgd": ({"lr": 0.1}, [0.95, -2.01], [0.90, -2.02]),
    "momentum": ({"lr": 0.1, "momentum": 0.9}, [0.95, -2.01], [0.855, -2.029]),  # buf: g, 1.9g
    "nesterov": ({"lr": 0.1, "momentum": 0.9}, [0.905, -2.019], [0.7695, -2.0461]),  # g + .9 buf
    "momentum_ema": ({"lr": 0.1, "momentum": 0.9}, [0.995, -2.001], [0.9855, -2.0029]),  # v: .1g, .19g
    "adagrad": ({"lr": 0.1, "eps": 0.0}, [0.9, -2.1], [0.8292893219, -2.1707106781]),  # 0.1/sqrt(2)
    "rmsprop": ({"lr": 0.01, "alpha": 0.99, "eps": 0.0},
                [0.9, -2.1], [0.8291118795, -2.1708881205]),  # v = .0199 g^2 at step 2
    "adam": ({"lr": 1e-3, "eps": 0.0}, [0.999, -2.001], [0.998, -2.002]),
    "adamw": ({"lr": 1e-3, "eps": 0.0, "weight_decay": 0.01},
              [0.99899, -2.00098], [0.9979800101, -2.0019599902]),  # p (1 - 1e-5), then adam
}

# name: (kwargs, steps) that take f(p) = (p1^2 + 10 p2^2) / 2 from (1, -1) to within 1e-3 of 0.
QUADRATIC = {
    "sgd": ({"lr": 0.05}, 300),
    "momentum": ({"lr": 0.02, "momentum": 0.9}, 300),
    "nesterov": ({"lr": 0.02, "momentum": 0.9}, 300),
    "momentum_ema": ({"lr": 0.1, "momentum": 0.9}, 400),
    "adagrad": ({"lr": 0.5}, 500),
    "rmsprop": ({"lr": 0.01}, 500),
    "adam": ({"lr": 0.05}, 500),
    "adamw": ({"lr": 0.05}, 500),
}


def test_every_optimizer_has_rows():
    assert set(HAND_STEPS) == set(OPTIMIZERS) == set(QUADRATIC)


@pytest.mark.parametrize("name", sorted(HAND_STEPS))
def test_two_steps_match_hand_values(name):
    kwargs, after_one, after_two = HAND_STEPS[name]
    opt = OPTIMIZERS.create(name, **kwargs)
    p, g = np.array(P0), np.array(G)
    opt.step([p], [g])
    np.testing.assert_allclose(p, after_one, rtol=0, atol=1e-9)
    opt.step([p], [g])
    np.testing.assert_allclose(p, after_two, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(g, G)  # the gradient is read, never modified


@pytest.mark.parametrize("name", sorted(QUADRATIC))
def test_drives_quadratic_to_its_minimum(name):
    kwargs, steps = QUADRATIC[name]
    curvature = np.array([1.0, 10.0])
    p = np.array([1.0, -1.0])
    opt = OPTIMIZERS.create(name, **kwargs)
    for _ in range(steps):
        opt.step([p], [curvature * p])
    assert np.abs(p).max() < 1e-3


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
