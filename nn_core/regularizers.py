"""Regularizers: one class each, declaring its grid settings and where it plugs in (`into`).

- PENALTY: a hook fit calls around each optimizer step, on weights, never biases: `penalty(model)`
  is added to the batch loss, `add_to_gradient(model)` adds that penalty's gradient to
  `model.grads_flat` after backward, `after_step(model, lr)` edits the weights after the step.
- GRADIENT: a hook whose `add_to_gradient` transforms the whole gradient; fit runs these after
  every PENALTY hook (grad_clip clips the penalized gradient).
- MODEL: MLP keywords (`model_kwargs()`): a layer the MLP inserts (dropout) or the loss it trains on.
- DATA: fit's batch_transform, `(X_batch, rng) -> X_batch`, made with the data's image shape and
  normalization (`from_settings(config, data)`), e.g. nn_core/augment.py.

`settings` maps each grid setting to its Setting: its default is "off", its `argument` the
constructor keyword it fills; a regularizer is on when any of its settings is truthy. The
constructor's own defaults are an "on" strength (the tests switch each regularizer on with them).
ablations/config.py's SCHEMA and ablations/regularization.py read these declarations: a new
regularizer is one registered class here (or in a plugin) and a grid level.
"""

import numpy as np

from .registry import Registry
from .settings import Setting, fraction, number

REGULARIZERS = Registry("regularizer")
PENALTY, GRADIENT, MODEL, DATA = "penalty", "gradient", "model", "data"


class Regularizer:
    into = PENALTY
    settings = {}  # grid setting -> Setting

    @classmethod
    def is_on(cls, config):
        return any(config[key] for key in cls.settings)

    @classmethod
    def arguments(cls, config):
        """Constructor keywords from the settings of `config`."""
        return {setting.argument or key: config[key] for key, setting in cls.settings.items()}

    @classmethod
    def from_settings(cls, config, data=None):
        """The regularizer that the settings of `config` ask for. `data` (with image_shape,
        pixel_mean, pixel_std) serves DATA regularizers."""
        return cls(**cls.arguments(config))

    @classmethod
    def conflict(cls, config):
        """A one-line reason why `config`'s other settings rule this regularizer out, or None."""
        return None

    def penalty(self, model):
        return 0.0

    def add_to_gradient(self, model):
        pass

    def after_step(self, model, lr):
        pass


@REGULARIZERS.register("l2")
class L2(Regularizer):
    """Coupled L2: loss += (l2/2) sum W^2, so dW += l2 W. Acts through the optimizer (for Adam
    the penalty's gradient is rescaled like any other, unlike decoupled weight decay)."""

    settings = {"l2": Setting(0.0, (float,), number(0), help="coupled L2 on weights")}

    def __init__(self, l2=1e-4):
        self.l2 = l2

    def penalty(self, model):
        w = model.weights_flat
        return 0.5 * self.l2 * float(np.dot(w, w))

    def add_to_gradient(self, model):
        model.weight_grads_flat[...] += self.l2 * model.weights_flat


@REGULARIZERS.register("weight_decay")
class DecoupledWeightDecay(Regularizer):
    """Decoupled weight decay after each step: W <- W - lr * weight_decay * W
    (Loshchilov & Hutter 2019). Not part of the loss or the gradient."""

    settings = {
        "decoupled_weight_decay": Setting(0.0, (float,), number(0), argument="weight_decay")
    }

    def __init__(self, weight_decay=1e-4):
        self.weight_decay = weight_decay

    def after_step(self, model, lr):
        model.weights_flat[...] *= 1.0 - lr * self.weight_decay


@REGULARIZERS.register("dropout")
class HiddenDropout(Regularizer):
    """Inverted dropout after each hidden activation: MLP(dropout=rate), a layers.Dropout each
    (Srivastava et al. 2014)."""

    into = MODEL
    settings = {"dropout": Setting(0.0, (float,), fraction, argument="rate")}

    def __init__(self, rate=0.2):
        self.rate = rate

    def model_kwargs(self):
        return {"dropout": self.rate}


@REGULARIZERS.register("input_dropout")
class InputDropout(HiddenDropout):
    """Inverted dropout on the input features: MLP(input_dropout=rate) (Srivastava et al. 2014
    drop 20% of MNIST's pixels)."""

    settings = {
        "input_dropout": Setting(
            0.0, (float,), fraction, argument="rate", help="dropout on the input pixels"
        )
    }

    def model_kwargs(self):
        return {"input_dropout": self.rate}


@REGULARIZERS.register("label_smoothing")
class LabelSmoothing(Regularizer):
    """Train on targets (1 - eps) one_hot + eps / k: MLP(label_smoothing=eps), through
    losses.SoftmaxCrossEntropy (Szegedy et al. 2016)."""

    into = MODEL
    settings = {
        "label_smoothing": Setting(
            0.0,
            (float,),
            fraction,
            argument="eps",
            help="targets (1 - eps) one-hot + eps / classes",
        )
    }

    def __init__(self, eps=0.1):
        self.eps = eps

    def model_kwargs(self):
        return {"label_smoothing": self.eps}

    @classmethod
    def conflict(cls, config):
        if config["label_smoothing"] and config["loss"] != "softmax_cross_entropy":
            return f"label_smoothing needs loss 'softmax_cross_entropy', got {config['loss']!r}"
        return None


@REGULARIZERS.register("grad_clip")
class GradClipByGlobalNorm(Regularizer):
    """Rescale every gradient (weights and biases) by min(1, max_norm / ||g||_2) over all of them."""

    into = GRADIENT
    settings = {
        "clip_norm": Setting(
            None, (float,), number(0, low_open=True), optional=True, argument="max_norm"
        )
    }

    def __init__(self, max_norm=1.0):
        self.max_norm = max_norm

    def add_to_gradient(self, model):
        g = model.grads_flat
        norm = float(np.sqrt(np.dot(g, g)))
        if norm > self.max_norm:
            g *= self.max_norm / norm
