"""Central finite differences, to check analytic gradients (use float64)."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """d f / d x by central differences, perturbing `x` in place one entry at a time.

    f : callable () -> float, reading `x`. x : float64 array. Returns an array shaped like x.
    """
    grad = np.zeros_like(x)
    flat, out = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        plus = f()
        flat[i] = orig - eps
        minus = f()
        flat[i] = orig
        out[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric):
    """||a - n||_2 / (||a||_2 + ||n||_2): scale-free, 0 when both vanish."""
    analytic, numeric = np.ravel(analytic), np.ravel(numeric)
    denom = max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12)
    return float(np.linalg.norm(analytic - numeric) / denom)
