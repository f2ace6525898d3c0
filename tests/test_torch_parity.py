"""Optimizer trajectories against torch.optim with default options (runs where torch is installed:
`make bench` installs it)."""

import numpy as np
import pytest

from nn_core import LOSSES, OPTIMIZERS, one_hot

torch = pytest.importorskip("torch")

# name: (torch optimizer factory, our kwargs), same hyperparameters on both sides.
TORCH_TWINS = {
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.01), {"lr": 0.01}),
    "momentum": (
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
        {"lr": 0.01, "momentum": 0.9},
    ),
    "nesterov": (
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
        {"lr": 0.01, "momentum": 0.9},
    ),
    "adagrad": (lambda p: torch.optim.Adagrad(p, lr=0.01), {"lr": 0.01}),
    "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=0.01), {"lr": 0.01}),
    "adam": (lambda p: torch.optim.Adam(p, lr=1e-3), {"lr": 1e-3}),
    "adamw": (lambda p: torch.optim.AdamW(p, lr=1e-3), {"lr": 1e-3}),
}


@pytest.mark.parametrize("name", sorted(TORCH_TWINS))
def test_trajectory_matches_torch_in_float32(name):
    rng = np.random.default_rng(0)
    make_torch, kwargs = TORCH_TWINS[name]
    ours = [
        rng.standard_normal((30, 20)).astype(np.float32),
        rng.standard_normal(20).astype(np.float32),
    ]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in ours]
    opt, opt_torch = OPTIMIZERS.create(name, **kwargs), make_torch(theirs)
    for _ in range(100):
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in ours]
        for t, g in zip(theirs, grads):
            t.grad = torch.tensor(g)
        opt_torch.step()
        opt.step(ours, grads)
    for t, p in zip(theirs, ours):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=0, atol=2e-6)  # a few float32 ulps


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_matches_torch(eps):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((16, 10)) * 3
    labels = rng.integers(0, 10, 16)
    ours = LOSSES.create("softmax_cross_entropy", label_smoothing=eps)
    value, grad = ours.loss_and_grad(logits.copy(), one_hot(labels, 10, np.float64))
    z = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(z, torch.tensor(labels), label_smoothing=eps)
    theirs.backward()
    assert value == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-14)
