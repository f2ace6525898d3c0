"""Weight initializers: `INITIALIZERS[name](fan_in, fan_out, rng, dtype) -> W (fan_in, fan_out)`.

Each targets a weight variance (Glorot & Bengio 2010; He et al. 2015; LeCun et al. 1998):
glorot 2/(fan_in+fan_out), he 2/fan_in, lecun 1/fan_in. Uniform variants draw from
U(-limit, limit) with limit = sqrt(3 var); normal variants from N(0, var). Biases start at 0.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .registry import Registry

INITIALIZERS = Registry("initializer")


@dataclass(frozen=True)
class Initializer:
    variance: Callable[[int, int], float]  # (fan_in, fan_out) -> target Var[W_ij]
    distribution: str  # "uniform" or "normal"

    def __call__(self, fan_in, fan_out, rng, dtype=np.float32):
        var = self.variance(fan_in, fan_out)
        shape = (fan_in, fan_out)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        return (np.sqrt(var) * rng.standard_normal(size=shape)).astype(dtype)


def glorot_variance(fan_in, fan_out):
    return 2.0 / (fan_in + fan_out)


def he_variance(fan_in, fan_out):
    return 2.0 / fan_in


def lecun_variance(fan_in, fan_out):
    return 1.0 / fan_in


INITIALIZERS["glorot_uniform"] = Initializer(glorot_variance, "uniform")
INITIALIZERS["glorot_normal"] = Initializer(glorot_variance, "normal")
INITIALIZERS["he_uniform"] = Initializer(he_variance, "uniform")
INITIALIZERS["he_normal"] = Initializer(he_variance, "normal")
INITIALIZERS["lecun_normal"] = Initializer(lecun_variance, "normal")
