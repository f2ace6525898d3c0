"""Regularizers: hooks that fit calls around each optimizer step, acting on weights, never biases.

`penalty(model)` is added to the batch loss, `add_to_gradient(model)` edits `model.grads_flat`
after backward (in list order, so put grad_clip last), and `after_step(model, lr)` edits the
weights after the optimizer step. Dropout is a layer (MLP(dropout=...)), not an entry here.
"""
import numpy as np

from .registry import Registry

REGULARIZERS = Registry("regularizer")


class Regularizer:
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

    def __init__(self, weight_decay=1e-4):
        self.weight_decay = weight_decay

    def after_step(self, model, lr):
        model.weights_flat[...] *= 1.0 - lr * self.weight_decay


@REGULARIZERS.register("grad_clip")
class GradClipByGlobalNorm(Regularizer):
    """Rescale every gradient (weights and biases) by min(1, max_norm / ||g||_2) over all of them."""

    def __init__(self, max_norm=1.0):
        self.max_norm = max_norm

    def add_to_gradient(self, model):
        g = model.grads_flat
        norm = float(np.sqrt(np.dot(g, g)))
        if norm > self.max_norm:
            g *= self.max_norm / norm
