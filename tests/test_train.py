"""fit, the MLP's API and the schedules, end to end on scikit-learn's bundled digits."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nn_core import MLP, OPTIMIZERS, REGULARIZERS, SCHEDULES, fit


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    return X_train, y_train, X_test, y_test


def train(digits, seed=0, optimizer="adam", lr=1e-3, epochs=5, **kwargs):
    X_train, y_train, X_test, y_test = digits
    rng = np.random.default_rng(seed)
    model = MLP(
        [64, 32, 10],
        rng,
        activation=kwargs.pop("activation", "relu"),
        dropout=kwargs.pop("dropout", 0.0),
    )
    history = fit(
        model,
        X_train,
        y_train,
        optimizer=OPTIMIZERS.create(optimizer, lr=lr),
        rng=rng,
        epochs=epochs,
        batch_size=32,
        X_val=X_test,
        y_val=y_test,
        **kwargs,
    )
    return model, history


def test_history_records_every_epoch(digits):
    _, history = train(digits, epochs=3)
    for key in ["train_loss", "val_loss", "val_acc", "train_time_s", "eval_time_s", "lr"]:
        assert len(getattr(history, key)) == 3, key
    assert all(t > 0 for t in history.train_time_s)


def test_same_seed_same_numbers_different_seed_different(digits):
    a, history_a = train(digits, seed=3, dropout=0.2)
    b, history_b = train(digits, seed=3, dropout=0.2)
    c, _ = train(digits, seed=4, dropout=0.2)
    np.testing.assert_array_equal(a.params_flat, b.params_flat)
    assert history_a.val_loss == history_b.val_loss
    assert not np.array_equal(a.params_flat, c.params_flat)


def test_absurd_learning_rate_is_recorded_as_diverged(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning may escape fit
        _, history = train(digits, optimizer="sgd", lr=1e30, epochs=5)
    assert history.diverged
    assert len(history.train_loss) < 5


def test_early_stopping_restores_best_weights(digits):
    model, history = train(digits, optimizer="sgd", lr=1.5, epochs=40, patience=2)
    assert history.stopped_early
    assert history.best_epoch == int(np.argmin(history.val_loss))
    val_loss, _ = model.evaluate(digits[2], digits[3])
    assert val_loss == pytest.approx(min(history.val_loss), rel=1e-5)


def test_callback_sees_each_epoch_and_can_stop(digits):
    seen = []
    _, history = train(
        digits, epochs=10, callback=lambda epoch, h: seen.append(epoch) or epoch == 2
    )
    assert seen == [0, 1, 2]
    assert len(history.train_loss) == 3


def test_batch_transform_gets_every_batch_with_the_rng(digits):
    sizes = []

    def transform(xb, rng):
        assert isinstance(rng, np.random.Generator)
        sizes.append(len(xb))
        return xb

    train(digits, epochs=1, batch_transform=transform)
    assert sum(sizes) == len(digits[0])


def test_more_l2_gives_smaller_weights(digits):
    norms = []
    for l2 in [0.0, 1e-3, 1e-2]:
        model, _ = train(digits, epochs=5, regularizers=[REGULARIZERS.create("l2", l2=l2)])
        norms.append(np.linalg.norm(model.weights_flat))
    assert norms[0] > norms[1] > norms[2]


def test_weight_decay_shrinks_weights_not_biases(digits):
    rng = np.random.default_rng(0)
    model = MLP([4, 3, 2], rng)
    model.params_flat[model.n_weights :] = 1.0
    before = model.params_flat.copy()
    REGULARIZERS.create("weight_decay", weight_decay=0.5).after_step(model, lr=0.1)
    np.testing.assert_allclose(model.weights_flat, before[: model.n_weights] * 0.95, rtol=1e-6)
    np.testing.assert_array_equal(model.params_flat[model.n_weights :], 1.0)


def test_grad_clip_bounds_the_global_norm():
    model = MLP([4, 3, 2], np.random.default_rng(0))
    model.grads_flat[...] = 10.0
    REGULARIZERS.create("grad_clip", max_norm=2.0).add_to_gradient(model)
    assert np.linalg.norm(model.grads_flat) == pytest.approx(2.0, rel=1e-5)
    model.grads_flat[...] = 0.01
    REGULARIZERS.create("grad_clip", max_norm=2.0).add_to_gradient(model)
    np.testing.assert_allclose(model.grads_flat, 0.01)


def test_parameters_are_views_in_order():
    model = MLP([4, 3, 2], np.random.default_rng(0))
    shapes = [p.shape for p in model.parameters()]
    assert shapes == [(4, 3), (3,), (3, 2), (2,)]
    assert [g.shape for g in model.gradients()] == shapes
    for p in model.parameters():
        p[...] = 0.0
    assert not model.params_flat.any()
    np.testing.assert_array_equal(model.predict_proba(np.ones((1, 4))), [[0.5, 0.5]])


def test_float32_by_default_float64_on_request():
    assert MLP([4, 2], np.random.default_rng(0)).params_flat.dtype == np.float32
    assert MLP([4, 2], np.random.default_rng(0), dtype=np.float64).params_flat.dtype == np.float64


def test_save_and_load_round_trip(tmp_path, digits):
    model, _ = train(digits, epochs=1, activation="tanh")
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = MLP.load(path)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.params_flat, model.params_flat)
    np.testing.assert_array_equal(loaded.predict(digits[2]), model.predict(digits[2]))


def test_predict_matches_predict_proba(digits):
    model, _ = train(digits, epochs=2)
    proba = model.predict_proba(digits[2])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.predict(digits[2]))


# (schedule, kwargs, multipliers worked out by hand): every schedule has a row.
SCHEDULE_ROWS = [
    ("constant", {}, [1.0, 1.0, 1.0, 1.0]),
    ("step", {"step_epochs": 1, "gamma": 0.5}, [1.0, 1.0, 0.5, 0.5]),
    ("cosine", {}, [1.0, 0.8535533906, 0.5, 0.1464466094]),
    ("constant", {"warmup_epochs": 1}, [0.5, 1.0, 1.0, 1.0]),
]


def test_every_schedule_has_a_row():
    missing = sorted(set(SCHEDULES) - {name for name, _, _ in SCHEDULE_ROWS})
    assert not missing, f"add a row to SCHEDULE_ROWS in tests/test_train.py for {missing}"


@pytest.mark.parametrize("name,kwargs,expected", SCHEDULE_ROWS)
def test_schedules(name, kwargs, expected):
    schedule = SCHEDULES.create(name, **kwargs)  # 2 steps per epoch, 4 steps in all
    got = [schedule.multiplier(step, steps_per_epoch=2, total_steps=4) for step in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def textbook_adam_training(
    weights, biases, X, y, rng, epochs, batch_size, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8
):
    """The same training written plainly: one array per layer, ReLU hidden layers, softmax
    cross-entropy, Adam exactly as Kingma & Ba write it. Returns the trained [W0, b0, W1, b1, ...]."""
    params = [p.copy() for pair in zip(weights, biases) for p in pair]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            idx = order[start : start + batch_size]
            activations, pre = [X[idx]], []
            for layer in range(len(weights)):
                pre.append(activations[-1] @ params[2 * layer] + params[2 * layer + 1])
                activations.append(np.maximum(pre[-1], 0))  # the last one (on the logits) unused
            logits = pre[-1]
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            delta = (p - np.eye(p.shape[1])[y[idx]]) / len(idx)  # dLoss/dlogits
            grads = [None] * len(params)
            for layer in reversed(range(len(weights))):
                grads[2 * layer] = activations[layer].T @ delta
                grads[2 * layer + 1] = delta.sum(axis=0)
                delta = (delta @ params[2 * layer].T) * (pre[layer - 1] > 0) if layer else None
            t += 1
            for i, g in enumerate(grads):
                m[i] = beta1 * m[i] + (1 - beta1) * g
                v[i] = beta2 * v[i] + (1 - beta2) * g * g
                m_hat, v_hat = m[i] / (1 - beta1**t), v[i] / (1 - beta2**t)
                params[i] = params[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def test_fit_gives_the_numbers_of_the_plain_textbook_loop(digits):
    """The fast path (flat buffers, in-place ufuncs, fused loss gradient, reordered Adam passes)
    computes the same function as the textbook formulas, in float64 to rounding error."""
    X_train, y_train = digits[0].astype(np.float64), digits[1]
    model = MLP([64, 32, 16, 10], np.random.default_rng(0), dtype=np.float64)
    model.biases_flat[...] = np.random.default_rng(1).normal(0, 0.1, model.biases_flat.size)
    expected = textbook_adam_training(
        [layer.W for layer in model.dense],
        [layer.b for layer in model.dense],
        X_train,
        y_train,
        np.random.default_rng(2),
        epochs=2,
        batch_size=50,
    )
    fit(
        model,
        X_train,
        y_train,
        optimizer=OPTIMIZERS.create("adam", lr=1e-3),
        rng=np.random.default_rng(2),
        epochs=2,
        batch_size=50,
    )  # 1347 samples: a short last batch
    for ours, theirs in zip(model.parameters(), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
