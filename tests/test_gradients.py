"""Finite-difference checks (float64, relative error < 1e-6) for every registered component."""

import numpy as np
import pytest

from nn_core import ACTIVATIONS, LOSSES, MLP, REGULARIZERS, Dense, Dropout, one_hot
from nn_core.gradcheck import numerical_gradient, relative_error

TOL = 1e-6


def away_from_kinks(rng, shape):
    """Pre-activations in [-3, -0.1] U [0.1, 3], so ReLU-like kinks are never straddled."""
    z = rng.uniform(0.1, 3.0, size=shape)
    return z * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradient(name, rng):
    act = ACTIVATIONS.create(name)
    z = away_from_kinks(rng, (4, 5))
    upstream = rng.standard_normal((4, 5))
    dz = act.backward(z, act.forward(z), upstream.copy())
    numeric = numerical_gradient(lambda: float(np.sum(upstream * act.forward(z))), z)
    assert relative_error(dz, numeric) < TOL


def targets_for(name, rng, n, k):
    if name == "mse":
        return rng.standard_normal((n, k))
    return one_hot(rng.integers(0, k, n), k, np.float64)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradient(name, rng):
    loss = LOSSES.create(name)
    logits = rng.standard_normal((6, 4)) * 2
    Y = targets_for(name, rng, 6, 4)
    _, grad = loss.loss_and_grad(logits, Y)
    numeric = numerical_gradient(lambda: loss.loss(logits, Y), logits)
    assert relative_error(grad, numeric) < TOL


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_gradients(activation, rng):
    layer = Dense.create(5, 3, activation, rng, dtype=np.float64)
    x = rng.standard_normal((4, 5))
    upstream = rng.standard_normal((4, 3))

    def objective():
        return float(np.sum(upstream * layer.forward(x)))

    layer.forward(x)
    dx = layer.backward(upstream.copy())
    for analytic, wrt in [(dx, x), (layer.dW.copy(), layer.W), (layer.db.copy(), layer.b)]:
        assert relative_error(analytic, numerical_gradient(objective, wrt)) < TOL


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_label_smoothed_cross_entropy(eps, rng):
    loss = LOSSES.create("softmax_cross_entropy", label_smoothing=eps)
    logits = rng.standard_normal((6, 4)) * 2
    Y = targets_for("softmax_cross_entropy", rng, 6, 4)
    value, grad = loss.loss_and_grad(logits, Y)
    smoothed = (1 - eps) * Y + eps / 4
    plain = LOSSES.create("softmax_cross_entropy")
    assert value == pytest.approx(plain.loss(logits, smoothed), rel=1e-12)  # the same objective
    assert relative_error(grad, numerical_gradient(lambda: loss.loss(logits, Y), logits)) < TOL


def test_input_dropout_drops_whole_input_features_in_training_only(rng):
    X = rng.standard_normal((1, 30))
    plain = MLP([30, 5, 3], np.random.default_rng(1), dtype=np.float64)
    model = MLP([30, 5, 3], np.random.default_rng(1), input_dropout=0.5, dtype=np.float64)
    np.testing.assert_array_equal(model.forward(X), plain.forward(X))  # eval mode: identity
    model.backward(
        model.loss.loss_and_grad(
            model.forward(X, np.random.default_rng(2)), one_hot([1], 3, np.float64)
        )[1]
    )
    dropped = model.layers[0].mask[0] == 0  # (30,): the features this row lost
    assert 0 < dropped.sum() < 30
    first_dW = model.dense[0].dW
    assert np.all(first_dW[dropped] == 0) and np.all(np.abs(first_dW[~dropped]).sum(axis=1) > 0)


def test_label_smoothing_leaves_the_reported_loss_plain(rng):
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    plain = MLP([6, 4, 3], np.random.default_rng(1), dtype=np.float64)
    smoothed = MLP([6, 4, 3], np.random.default_rng(1), label_smoothing=0.2, dtype=np.float64)
    assert smoothed.evaluate(X, y) == plain.evaluate(X, y)
    with pytest.raises(ValueError, match="label_smoothing needs loss"):
        MLP([6, 4, 3], rng, loss="mse", label_smoothing=0.1)


def test_dropout_gradient_with_fixed_mask(rng):
    layer = Dropout(0.5)
    x = rng.standard_normal((4, 6))
    layer.forward(x, np.random.default_rng(7))
    mask = layer.mask.copy()
    assert set(np.unique(mask)) <= {0.0, 2.0}
    upstream = rng.standard_normal((4, 6))
    dx = layer.backward(upstream.copy())
    numeric = numerical_gradient(lambda: float(np.sum(upstream * (x * mask))), x)
    assert relative_error(dx, numeric) < TOL


def test_dropout_is_identity_in_eval_mode(rng):
    x = rng.standard_normal((3, 4))
    assert Dropout(0.5).forward(x) is x


def mlp_objective(model, X, Y, regularizers=()):
    loss = model.loss.loss(model.forward(X), Y)
    return loss + sum(r.penalty(model) for r in regularizers)


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_three_layer_mlp_gradient(activation, loss, rng):
    """Every activation in a whole MLP (a kink of relu-like ones lies within the difference
    step of a pre-activation with probability ~1e-6 per unit: these seeded draws miss them)."""
    model = MLP([5, 7, 6, 4], rng, activation=activation, loss=loss, dtype=np.float64)
    model.params_flat[model.n_weights :] = (
        rng.standard_normal(model.n_params - model.n_weights) * 0.1
    )
    X = rng.standard_normal((8, 5))
    Y = targets_for(loss, rng, 8, 4)
    model.loss_and_grad(X, Y)
    analytic = model.grads_flat.copy()
    numeric = numerical_gradient(lambda: mlp_objective(model, X, Y), model.params_flat)
    assert relative_error(analytic, numeric) < TOL


def test_l2_gradient_counts_weights_not_biases(rng):
    model = MLP([5, 6, 3], rng, activation="tanh", dtype=np.float64)
    model.params_flat[model.n_weights :] = 1.0  # large biases: decaying them would show up
    l2 = REGULARIZERS.create("l2", l2=0.3)
    X, Y = rng.standard_normal((7, 5)), one_hot(rng.integers(0, 3, 7), 3, np.float64)
    model.loss_and_grad(X, Y)
    l2.add_to_gradient(model)
    numeric = numerical_gradient(lambda: mlp_objective(model, X, Y, [l2]), model.params_flat)
    assert relative_error(model.grads_flat, numeric) < TOL
    assert l2.penalty(model) == pytest.approx(0.15 * np.sum(model.weights_flat**2))
