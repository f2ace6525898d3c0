"""Layers with forward and backward side by side.

Dense computes z = x @ W + b, a = f(z) with x (n, d_in), W (d_in, d_out), b (d_out,).
`backward(da)` takes dLoss/da (n, d_out), writes dW and db into the layer's gradient arrays and
returns dx = dLoss/dx (n, d_in). Dropout is inverted dropout: scaled at train time, identity at eval.
"""

import numpy as np

from .activations import ACTIVATIONS
from .initializers import INITIALIZERS


class Dense:
    """Fully connected layer plus its activation.

    W, b, dW, db are arrays the layer writes in place; the MLP passes views into its flat parameter
    and gradient buffers, so the optimizer can update every layer with a few vector operations.
    """

    def __init__(self, W, b, dW, db, activation="identity"):
        self.W, self.b, self.dW, self.db = W, b, dW, db
        self.activation = (
            ACTIVATIONS.create(activation) if isinstance(activation, str) else activation
        )

    @classmethod
    def create(cls, d_in, d_out, activation, rng, init=None, dtype=np.float32):
        """A standalone layer with its own arrays; `init` defaults to the activation's."""
        act = ACTIVATIONS.create(activation)
        W = INITIALIZERS[init or act.default_init](d_in, d_out, rng, dtype)
        b = np.zeros(d_out, dtype)
        return cls(W, b, np.zeros_like(W), np.zeros_like(b), act)

    def forward(self, x):
        """x (n, d_in) -> a (n, d_out); caches x, z and a for backward."""
        z = x @ self.W  # (n, d_out)
        z += self.b
        self.x, self.z = x, z
        self.a = self.activation.forward(z)
        return self.a

    def backward(self, da, need_dx=True):
        """da (n, d_out) -> dx (n, d_in), or None when `need_dx` is False (the first layer)."""
        dz = self.activation.backward(self.z, self.a, da)  # (n, d_out)
        np.matmul(self.x.T, dz, out=self.dW)
        np.sum(dz, axis=0, out=self.db)
        return dz @ self.W.T if need_dx else None


class Dropout:
    """Inverted dropout: a = x * mask, mask = 1[u >= rate] / (1 - rate) with u ~ U(0, 1).

    Active only when `forward` gets a Generator (training); with `rng=None` it is the identity, so
    evaluation needs no rescaling. Srivastava et al. 2014.
    """

    def __init__(self, rate):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.mask = None

    def make_mask(self, shape, rng, dtype):
        keep = rng.random(shape, dtype=np.float32) >= self.rate
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - self.rate))

    def forward(self, x, rng=None):
        if rng is None or self.rate == 0.0:
            self.mask = None
            return x
        self.mask = self.make_mask(x.shape, rng, x.dtype)
        return x * self.mask

    def backward(self, da, need_dx=True):
        if self.mask is not None:
            da *= self.mask
        return da
