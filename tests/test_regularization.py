"""The regularizer table: one registered class each, declaring its settings and where it plugs in.
Every test here is parametrized over REGULARIZERS, so a new regularizer is checked without a row:
its declaration is valid, its settings are SCHEMA rows, it is built when (and only when) they
are on, and the gradient fit steps with matches finite differences of the training objective."""

import inspect

import numpy as np
import pytest

from nn_core import MLP, REGULARIZERS, one_hot
from nn_core.gradcheck import numerical_gradient, relative_error
from nn_core.regularizers import DATA, GRADIENT, MODEL, PENALTY, Regularizer
from nn_core.settings import Setting, number
from ablations.train import trainers
from ablations.grid.config import SCHEMA, GridError, resolve, run_id
from ablations.data.datasets import load_splits
from ablations.train.regularization import regularization

HOOK_KINDS = (PENALTY, GRADIENT)
NAMES = sorted(REGULARIZERS)


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits")


def constructor_defaults(regularizer):
    return {k: p.default for k, p in inspect.signature(regularizer).parameters.items()}


def switched_on(regularizer):
    """Settings that switch `regularizer` on at its constructor's default strength."""
    defaults = constructor_defaults(regularizer)
    return {key: defaults[setting.argument or key] for key, setting in regularizer.settings.items()}


def built(parts):
    """The regularizer objects a Regularization holds (hooks and batch transform)."""
    return parts.hooks + ([parts.batch_transform] if parts.batch_transform is not None else [])


@pytest.mark.parametrize("name", NAMES)
def test_a_declaration_is_complete(name):
    regularizer = REGULARIZERS[name]
    assert issubclass(regularizer, Regularizer) and regularizer.into in (*HOOK_KINDS, MODEL, DATA)
    assert regularizer.settings, f"{name}: declare its grid settings in `settings`"
    defaults = constructor_defaults(regularizer)
    for key, setting in regularizer.settings.items():
        assert SCHEMA[key] is setting, f"{name}: {key} is not the SCHEMA row"
        assert not setting.default, f"{name}: {key}'s default must switch it off"
        assert (setting.argument or key) in defaults, f"{name}: {key} fills no constructor argument"
    assert regularizer.is_on(resolve(switched_on(regularizer))), (
        f"{name}: its constructor's defaults must switch it on (the tests use them)"
    )


@pytest.mark.parametrize("name", NAMES)
def test_a_regularizer_is_built_from_its_settings_only_when_on(name, splits):
    regularizer = REGULARIZERS[name]
    config = resolve(switched_on(regularizer))
    parts = regularization(config, splits)
    if regularizer.into == MODEL:
        assert parts.model_kwargs == regularizer(**regularizer.arguments(config)).model_kwargs()
        assert built(parts) == []
    else:
        [component] = built(parts)
        assert type(component) is regularizer and parts.model_kwargs == {}
        for key, setting in regularizer.settings.items():
            assert getattr(component, setting.argument or key) == config[key]
    assert (parts.batch_transform is not None) == (regularizer.into == DATA)
    off = regularization(resolve({}), splits)
    assert built(off) == [] and off.model_kwargs == {}


@pytest.mark.parametrize("name", NAMES)
def test_the_training_gradient_matches_finite_differences(name, splits):
    """What fit steps with (backward, then each PENALTY hook's gradient) against central
    differences of what it minimizes: the data loss of the model (its dropout masks fixed by
    a seeded Generator) on the transformed batch, plus the penalties; float64. GRADIENT hooks
    transform that gradient afterwards (test_train checks clipping by hand)."""
    rng = np.random.default_rng(0)
    parts = regularization(resolve(switched_on(REGULARIZERS[name])), splits)
    model = MLP([64, 6, 5, 10], rng, activation="tanh", dtype=np.float64, **parts.model_kwargs)
    model.biases_flat[...] = rng.normal(0, 0.1, model.biases_flat.size)
    X = splits.X_train[:6].astype(np.float64)
    Y = one_hot(splits.y_train[:6], 10, np.float64)

    def logits():
        batch = (
            X.copy()
            if parts.batch_transform is None
            else parts.batch_transform(X.copy(), np.random.default_rng(5))
        )
        return model.forward(batch, np.random.default_rng(7))  # training mode, fixed masks

    def objective():
        return model.loss.loss(logits(), Y) + sum(h.penalty(model) for h in parts.hooks)

    model.backward(model.loss.loss_and_grad(logits(), Y)[1])
    for hook in parts.hooks:
        if hook.into == PENALTY:
            hook.add_to_gradient(model)
    analytic = model.grads_flat.copy()
    assert relative_error(analytic, numerical_gradient(objective, model.params_flat)) < 1e-6


def test_gradient_hooks_follow_every_penalty(splits):
    parts = regularization(
        resolve({"clip_norm": 1.0, "l2": 1e-4, "decoupled_weight_decay": 0.1}), splits
    )
    assert [type(h) for h in parts.hooks] == [
        REGULARIZERS["l2"],
        REGULARIZERS["weight_decay"],
        REGULARIZERS["grad_clip"],
    ]
    kinds = [REGULARIZERS[n].into for n in REGULARIZERS if REGULARIZERS[n].into in HOOK_KINDS]
    ordered = [
        h.into
        for h in regularization(
            resolve(
                {
                    k: v
                    for n in REGULARIZERS
                    if REGULARIZERS[n].into in HOOK_KINDS
                    for k, v in switched_on(REGULARIZERS[n]).items()
                }
            ),
            splits,
        ).hooks
    ]
    assert ordered == sorted(kinds, key=HOOK_KINDS.index)


@pytest.mark.parametrize("name", [n for n in NAMES if REGULARIZERS[n].into in HOOK_KINDS])
def test_the_trainer_hands_each_hook_to_fit(name, splits, monkeypatch):
    seen = {}
    real_fit = trainers.fit

    def spy(model, X, y, **kwargs):
        seen["hooks"] = [type(h) for h in kwargs["regularizers"]]
        return real_fit(model, X, y, **kwargs)

    monkeypatch.setattr(trainers, "fit", spy)
    trainers.train_nn_core(
        resolve({**switched_on(REGULARIZERS[name]), "hidden": [8], "epochs": 1}), splits
    )
    assert seen["hooks"] == [REGULARIZERS[name]]


class ToyL1(Regularizer):
    """The tests' toy regularizer: loss += toy_l1 sum |W|, so dW += toy_l1 sign(W)."""

    settings = {"toy_l1": Setting(0.0, (float,), number(0), help="L1 on weights")}

    def __init__(self, toy_l1=1e-4):
        self.toy_l1 = toy_l1

    def penalty(self, model):
        return self.toy_l1 * float(np.abs(model.weights_flat).sum())

    def add_to_gradient(self, model):
        model.weight_grads_flat[...] += self.toy_l1 * np.sign(model.weights_flat)


@pytest.fixture
def registered_toy():
    """ToyL1 registered as a plugin would (after SCHEMA was built), removed afterwards."""
    REGULARIZERS.register("toy_l1")(ToyL1)
    yield ToyL1
    del REGULARIZERS["toy_l1"], SCHEMA["toy_l1"]


def test_a_regularizer_registered_later_is_a_setting_and_is_built(registered_toy, splits):
    assert SCHEMA["toy_l1"] is ToyL1.settings["toy_l1"]
    config = resolve({"toy_l1": 1e-3})
    assert run_id(config) != run_id(resolve({}))
    assert run_id(resolve({"toy_l1": 0.0})) == run_id(resolve({}))
    [hook] = regularization(config, splits).hooks
    assert isinstance(hook, ToyL1) and hook.toy_l1 == 1e-3
    with pytest.raises(GridError, match="toy_l1: must be >= 0"):
        resolve({"toy_l1": -1.0})


def test_a_regularizer_cannot_take_a_setting_that_exists():
    class Clash(ToyL1):
        settings = {"dropout": Setting(0.0, (float,))}

    with pytest.raises(ValueError, match="declares the setting 'dropout', which is taken"):
        REGULARIZERS.register("clash")(Clash)
    assert "clash" not in REGULARIZERS


def test_nn_core_records_train_accuracy_for_the_generalization_gap(splits):
    """Scored in eval mode on training rows: an unregularized net that memorizes digits scores
    (nearly) 100% there and less on validation."""
    result = trainers.train_nn_core(resolve({"hidden": [64], "epochs": 40, "lr": 3e-3}), splits)
    assert result["train_acc"] >= 0.99 and result["train_acc"] > result["final_val_acc"]
    broken = trainers.train_nn_core(resolve({"hidden": [64], "epochs": 1, "lr": 1e-5}), splits)
    assert broken["train_acc"] < 0.5
