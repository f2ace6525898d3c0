"""Output nonlinearities fused with their losses, all working on the last layer's logits.

Shapes: logits (n, k), targets Y (n, k) (one-hot rows for classification). Every loss is a batch
mean, and every gradient is dLoss/dlogits, already divided by n. Fusing the output with its loss
makes all three gradients take the form (output - Y) / n, and keeps them finite for any logits.
"""

import numpy as np

from .registry import Registry

LOSSES = Registry("loss")


class Loss:
    """Base class: `output(logits)`, `loss(logits, Y)` and `loss_and_grad(logits, Y)`."""

    def output(self, logits):
        """The model's prediction from its logits, shape (n, k)."""
        raise NotImplementedError

    def loss_and_grad(self, logits, Y):
        """Return (batch-mean loss as float, dLoss/dlogits of shape (n, k))."""
        raise NotImplementedError

    def loss(self, logits, Y):
        return self.loss_and_grad(logits, Y)[0]


def log_softmax(logits):
    """Row-wise log softmax via log-sum-exp: logits - max - log(sum(exp(logits - max)))."""
    shifted = logits - logits.max(axis=1, keepdims=True)  # (n, k), every row's max is 0
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax(logits):
    """Row-wise softmax, shape (n, k); each row sums to 1."""
    p = logits - logits.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


@LOSSES.register("softmax_cross_entropy")
class SoftmaxCrossEntropy(Loss):
    """L = -(1/n) sum_i sum_c T_ic log softmax(z_i)_c, with targets T = (1 - eps) Y + eps / k.

    eps = `label_smoothing` (Szegedy et al. 2016, "Rethinking the Inception architecture", sec. 7;
    torch.nn.functional.cross_entropy's `label_smoothing` is the same formula); eps = 0 is plain
    cross-entropy. dL/dz = (softmax(z) - T) / n. The shortcut holds because each target row sums
    to 1: the softmax Jacobian contracted with -T/p collapses to p * sum(T) - T.
    """

    def __init__(self, label_smoothing=0.0):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def output(self, logits):
        return softmax(logits)

    def loss_and_grad(self, logits, Y):
        n, k = logits.shape
        eps = self.label_smoothing
        T = (1.0 - eps) * Y + eps / k if eps else Y  # (n, k) targets
        logp = log_softmax(logits)  # (n, k)
        loss = -float(np.vdot(T, logp)) / n
        grad = np.exp(logp, out=logp)
        grad -= T
        grad /= n
        return loss, grad


@LOSSES.register("sigmoid_binary_cross_entropy")
class SigmoidBinaryCrossEntropy(Loss):
    """Independent sigmoid per output: L = (1/n) sum_i sum_c [log(1 + e^z) - y z]_ic.

    Written as max(z, 0) - y z + log1p(exp(-|z|)), which is finite for any z. dL/dz = (sigmoid(z) - Y) / n.
    """

    def output(self, logits):
        p = np.multiply(logits, 0.5)
        np.tanh(p, out=p)
        return (p + 1.0) * 0.5

    def loss_and_grad(self, logits, Y):
        n = logits.shape[0]
        terms = np.maximum(logits, 0.0) - Y * logits + np.log1p(np.exp(-np.abs(logits)))
        grad = self.output(logits)
        grad -= Y
        grad /= n
        return float(terms.sum()) / n, grad


@LOSSES.register("mse")
class MeanSquaredError(Loss):
    """Identity output: L = (1/(2n)) sum_i ||z_i - y_i||^2, so dL/dz = (z - Y) / n."""

    def output(self, logits):
        return logits

    def loss_and_grad(self, logits, Y):
        n = logits.shape[0]
        grad = logits - Y
        loss = 0.5 * float(np.vdot(grad, grad)) / n
        grad /= n
        return loss, grad
