"""Properties of the outputs, losses, initializers and registries."""

import numpy as np
import pytest

from nn_core import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, UnknownNameError, one_hot
from nn_core.losses import softmax


def test_softmax_rows_sum_to_one(rng):
    p = softmax(rng.standard_normal((50, 10)) * 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (p >= 0).all()


@pytest.mark.parametrize("name", ["softmax_cross_entropy"])
def test_shifting_logits_changes_nothing(name, rng):
    loss = LOSSES.create(name)
    logits = rng.standard_normal((8, 5))
    Y = one_hot(rng.integers(0, 5, 8), 5, np.float64)
    shift = rng.standard_normal((8, 1)) * 100
    l0, g0 = loss.loss_and_grad(logits, Y)
    l1, g1 = loss.loss_and_grad(logits + shift, Y)
    assert l1 == pytest.approx(l0, rel=1e-9)
    np.testing.assert_allclose(g1, g0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(name, dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]], dtype)
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        loss, grad = LOSSES.create(name).loss_and_grad(logits, Y)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    if name == "softmax_cross_entropy":  # -log p of the target: 2000 and 2000 + log 2
        assert loss == pytest.approx((2000 + 2000 + np.log(2)) / 2, rel=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_stay_finite_at_extremes(name, dtype):
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype)
    act = ACTIVATIONS.create(name)
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow to 0 is fine
        a = act.forward(z)
        dz = act.backward(z, a, np.ones_like(z))
    assert np.isfinite(a).all() and np.isfinite(dz).all()


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_initializer_variance_on_target(name, rng):
    fan_in, fan_out = 400, 300
    W = INITIALIZERS[name](fan_in, fan_out, rng, np.float64)
    target = INITIALIZERS[name].variance(fan_in, fan_out)
    assert W.shape == (fan_in, fan_out)
    assert W.var() == pytest.approx(target, rel=0.03)  # 120k draws: sampling error ~0.4%
    assert abs(W.mean()) < 0.01 * np.sqrt(target)


def test_initializer_dtype(rng):
    assert INITIALIZERS["he_normal"](3, 4, rng).dtype == np.float32


def test_unknown_name_is_one_line_with_suggestion():
    with pytest.raises(UnknownNameError) as info:
        OPTIMIZERS["adamm"]
    message = str(info.value)
    assert message.startswith("unknown optimizer 'adamm'; did you mean 'adam'?")
    assert "sgd" in message and "\n" not in message


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="already registered"):
        OPTIMIZERS.register("adam")(object)


def test_registries_hold_every_component():
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu"} <= set(ACTIVATIONS)
    assert {"softmax_cross_entropy", "sigmoid_binary_cross_entropy", "mse"} <= set(LOSSES)
    assert {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_normal"} <= set(
        INITIALIZERS
    )
    assert {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"} <= set(OPTIMIZERS)
