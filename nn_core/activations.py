"""Elementwise activations a = f(z) and their backward passes.

Every derivative is taken w.r.t. the pre-activation z: `backward(z, a, da)` returns
dz = da * f'(z). It may overwrite `da` in place (the caller owns that buffer and no longer needs it).
`default_init` names the initializer that keeps activations' variance stable for that nonlinearity.
"""

import numpy as np

from .registry import Registry

ACTIVATIONS = Registry("activation")


class Activation:
    """Base class: subclasses define `forward(z)` and `backward(z, a, da)`."""

    default_init = "glorot_uniform"

    def forward(self, z):
        raise NotImplementedError

    def backward(self, z, a, da):
        raise NotImplementedError


@ACTIVATIONS.register("identity")
class Identity(Activation):
    """f(z) = z. Used for the output layer, whose nonlinearity is fused into the loss."""

    def forward(self, z):
        return z

    def backward(self, z, a, da):
        return da


@ACTIVATIONS.register("sigmoid")
class Sigmoid(Activation):
    """f(z) = 1 / (1 + exp(-z)), computed as (1 + tanh(z/2)) / 2 so that no exp overflows.

    f'(z) = a (1 - a).
    """

    def forward(self, z):
        a = np.multiply(z, 0.5)
        np.tanh(a, out=a)
        a += 1.0
        a *= 0.5
        return a

    def backward(self, z, a, da):
        da *= a
        da *= 1.0 - a
        return da


@ACTIVATIONS.register("tanh")
class Tanh(Activation):
    """f(z) = tanh(z); f'(z) = 1 - a^2."""

    def forward(self, z):
        return np.tanh(z)

    def backward(self, z, a, da):
        da *= 1.0 - a * a
        return da


@ACTIVATIONS.register("relu")
class ReLU(Activation):
    """f(z) = max(z, 0); f'(z) = 1[z > 0] (0 at the kink)."""

    default_init = "he_normal"

    def forward(self, z):
        return np.maximum(z, 0.0, dtype=z.dtype)

    def backward(self, z, a, da):
        da *= z > 0
        return da


@ACTIVATIONS.register("leaky_relu")
class LeakyReLU(Activation):
    """f(z) = z if z > 0 else slope * z; f'(z) = 1 or slope. slope = 0.01 as in torch."""

    default_init = "he_normal"

    def __init__(self, slope=0.01):
        self.slope = slope

    def forward(self, z):
        return np.where(z > 0, z, z * z.dtype.type(self.slope))

    def backward(self, z, a, da):
        da *= np.where(z > 0, 1.0, self.slope).astype(da.dtype, copy=False)
        return da


@ACTIVATIONS.register("elu")
class ELU(Activation):
    """f(z) = z if z > 0 else alpha (exp(z) - 1); f'(z) = 1 or a + alpha. alpha = 1.

    Clevert et al. 2015. exp is evaluated on min(z, 0) so it never overflows.
    """

    default_init = "he_normal"

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, z):
        neg = np.expm1(np.minimum(z, 0.0))
        neg *= z.dtype.type(self.alpha)
        return np.where(z > 0, z, neg)

    def backward(self, z, a, da):
        da *= np.where(z > 0, 1.0, a + self.alpha).astype(da.dtype, copy=False)
        return da


@ACTIVATIONS.register("gelu")
class GELU(Activation):
    """GELU, tanh form (Hendrycks & Gimpel 2016; torch's approximate='tanh'):

    f(z) = z/2 (1 + tanh(u)),  u = c (z + k z^3),  c = sqrt(2/pi),  k = 0.044715
    f'(z) = (1 + tanh(u))/2 + z/2 (1 - tanh(u)^2) c (1 + 3 k z^2)
    """

    default_init = "he_normal"
    C = float(np.sqrt(2.0 / np.pi))
    K = 0.044715

    def _tanh_u(self, z):
        return np.tanh(self.C * (z + self.K * z**3))

    def forward(self, z):
        return 0.5 * z * (1.0 + self._tanh_u(z))

    def backward(self, z, a, da):
        t = self._tanh_u(z)
        slope = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * self.C * (1.0 + 3.0 * self.K * z * z)
        da *= slope.astype(da.dtype, copy=False)
        return da
