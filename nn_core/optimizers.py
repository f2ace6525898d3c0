"""Optimizers that follow the update rules of their torch.optim counterparts exactly.

`step(params, grads, decay=None)` updates each array in `params` in place from the matching array
in `grads`. State (momentum buffers, moments, step count) is created on the first step and kept per
position in the list. `decay[i]` says whether params[i] gets weight decay (default: all, as torch
does); fit passes [True, False] for [weights, biases]. `lr` may be changed between steps (schedules).
Every update writes into preallocated buffers, so one step allocates nothing.
"""

import math

import numpy as np

from .registry import Registry

OPTIMIZERS = Registry("optimizer")


class Optimizer:
    """Base class: subclasses implement `init_state(p)` and `update(p, g, state, decay)`."""

    def __init__(self, lr):
        self.lr = lr
        self.t = 0  # steps taken
        self.states = None

    def init_state(self, p):
        return {}

    def update(self, p, g, state, decay):
        raise NotImplementedError

    def step(self, params, grads, decay=None):
        if self.states is None:
            self.states = [self.init_state(p) for p in params]
        self.t += 1
        decay = [True] * len(params) if decay is None else decay
        for p, g, state, d in zip(params, grads, self.states, decay):
            self.update(p, g, state, d)


def _zeros(p):
    return np.zeros_like(p)


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """p <- p - lr g   (torch.optim.SGD defaults)."""

    def __init__(self, lr=1e-3):
        super().__init__(lr)

    def init_state(self, p):
        return {"tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        tmp = np.multiply(g, self.lr, out=state["tmp"])
        p -= tmp


@OPTIMIZERS.register("momentum")
class Momentum(Optimizer):
    """Heavy ball, as torch.optim.SGD(momentum=mu, dampening=0, nesterov=False):

        buf <- mu buf + g   (buf = g on the first step)
        p   <- p - lr buf
    Polyak 1964; Sutskever et al. 2013.
    """

    nesterov = False

    def __init__(self, lr=1e-3, momentum=0.9):
        super().__init__(lr)
        self.momentum = momentum

    def init_state(self, p):
        return {"buf": _zeros(p), "tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        buf, tmp = state["buf"], state["tmp"]
        buf *= self.momentum  # zero on the first step, so buf = g as in torch
        buf += g
        if self.nesterov:
            np.multiply(buf, self.momentum, out=tmp)
            tmp += g
        else:
            tmp[...] = buf
        tmp *= self.lr
        p -= tmp


@OPTIMIZERS.register("nesterov")
class Nesterov(Momentum):
    """Nesterov momentum, as torch.optim.SGD(momentum=mu, nesterov=True):

    buf <- mu buf + g
    p   <- p - lr (g + mu buf)
    """

    nesterov = True


@OPTIMIZERS.register("momentum_ema")
class MomentumEMA(Optimizer):
    """EMA-style momentum (the seed notebooks' rule; not a torch optimizer):

        v <- beta v + (1 - beta) g
        p <- p - lr v
    Equivalent to heavy ball with lr scaled by (1 - beta) once v is warm.
    """

    def __init__(self, lr=1e-2, momentum=0.9):
        super().__init__(lr)
        self.momentum = momentum

    def init_state(self, p):
        return {"v": _zeros(p), "tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        v, tmp = state["v"], state["tmp"]
        v *= self.momentum
        np.multiply(g, 1.0 - self.momentum, out=tmp)
        v += tmp
        np.multiply(v, self.lr, out=tmp)
        p -= tmp


@OPTIMIZERS.register("adagrad")
class Adagrad(Optimizer):
    """torch.optim.Adagrad (lr_decay=0, initial_accumulator_value=0):

        s <- s + g^2
        p <- p - lr g / (sqrt(s) + eps)
    Duchi et al. 2011.
    """

    def __init__(self, lr=1e-2, eps=1e-10):
        super().__init__(lr)
        self.eps = eps

    def init_state(self, p):
        return {"sum": _zeros(p), "tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        s, tmp = state["sum"], state["tmp"]
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


@OPTIMIZERS.register("rmsprop")
class RMSprop(Optimizer):
    """torch.optim.RMSprop (momentum=0, centered=False); eps is added outside the square root:

        v <- alpha v + (1 - alpha) g^2
        p <- p - lr g / (sqrt(v) + eps)
    Tieleman & Hinton 2012.
    """

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8):
        super().__init__(lr)
        self.alpha, self.eps = alpha, eps

    def init_state(self, p):
        return {"square_avg": _zeros(p), "tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        v, tmp = state["square_avg"], state["tmp"]
        v *= self.alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.alpha
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p -= tmp


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """torch.optim.Adam (amsgrad=False, weight_decay=0), with bias correction:

        m <- m + (1 - beta1) (g - m)           v <- beta2 v + (1 - beta2) g^2
        p <- p - lr/(1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    Kingma & Ba 2015. Float32 results agree with torch's to a few ulps (tests/test_torch_parity.py).
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def init_state(self, p):
        return {"exp_avg": _zeros(p), "exp_avg_sq": _zeros(p), "tmp": _zeros(p)}

    def update(self, p, g, state, decay):
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], state["tmp"]
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.beta1
        m += tmp
        np.multiply(g, 1.0 - self.beta2, out=tmp)
        tmp *= g
        v *= self.beta2
        v += tmp
        # m / (sqrt(v)/s + eps) == s m / (sqrt(v) + eps s), s = sqrt(1 - beta2^t): one pass fewer
        s = math.sqrt(1.0 - self.beta2**self.t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * s
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1.0 - self.beta1**self.t) * s
        p -= tmp


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """torch.optim.AdamW: Adam plus decoupled weight decay, applied first (default 1e-2):

        p <- p (1 - lr weight_decay);   then the Adam step above
    Loshchilov & Hutter 2019. Only arrays with decay=True are decayed.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = weight_decay

    def update(self, p, g, state, decay):
        if decay and self.weight_decay:
            p *= 1.0 - self.lr * self.weight_decay
        super().update(p, g, state, decay)
