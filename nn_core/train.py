"""Mini-batch training: `fit(model, X, y, ...) -> History`.

Per step: gather a shuffled batch into a preallocated buffer, optionally transform it, forward,
fused loss gradient, backward, regularizer hooks, one optimizer step over the flat [weights, biases]
buffers. Train loss is the mean of the epoch's batch losses (no extra pass over the data). A
non-finite loss ends training with `history.diverged = True` instead of raising.
"""

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .model import one_hot
from .schedules import SCHEDULES


@dataclass
class History:
    """Per-epoch curves (one entry per finished epoch) and how training ended."""

    train_loss: list = field(default_factory=list)  # mean batch objective (data loss + penalties)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    train_time_s: list = field(default_factory=list)  # seconds in training steps this epoch
    eval_time_s: list = field(default_factory=list)  # seconds evaluating on the validation set
    lr: list = field(default_factory=list)  # learning rate at the epoch's last step
    diverged: bool = False
    stopped_early: bool = False
    best_epoch: int = None  # 0-based epoch whose weights the model holds after early stopping

    def as_dict(self):
        return asdict(self)


def fit(
    model,
    X,
    y,
    *,
    optimizer,
    rng,
    noise_rng=None,
    epochs=10,
    batch_size=128,
    X_val=None,
    y_val=None,
    schedule=None,
    regularizers=(),
    patience=None,
    batch_transform=None,
    callback=None,
):
    """Train `model` in place and return its History.

    Parameters
    ----------
    model : MLP
    X : array (n, d_in), converted once to the model's dtype. y : int array (n,) of class labels.
    optimizer : Optimizer (OPTIMIZERS); its `lr` is the base learning rate.
    rng : np.random.Generator
        Draws the batch order, and everything else too unless `noise_rng` is given.
    noise_rng : np.random.Generator or None
        Draws dropout masks and is passed to `batch_transform`; None: `rng`. A separate stream
        keeps the batch order independent of whether (and how much) the model draws noise.
    epochs, batch_size : int
    X_val, y_val : optional validation set, evaluated after each epoch.
    schedule : Schedule or None (constant).
    regularizers : sequence of Regularizer, applied in order.
    patience : int or None
        Early stopping: stop after `patience` epochs without a lower val loss and restore the best
        weights. Needs a validation set.
    batch_transform : callable (X_batch, rng) -> X_batch, e.g. augmentation. May work in place.
    callback : callable (epoch, history) -> bool, after each epoch; returning True stops training.
    """
    if patience is not None and X_val is None:
        raise ValueError("early stopping (patience) needs a validation set")
    schedule = schedule or SCHEDULES.create("constant")
    X = np.asarray(X, model.dtype)
    n, k = len(X), model.config["sizes"][-1]
    Y = one_hot(y, k, model.dtype)
    batch_size = min(batch_size, n)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    x_buffer = np.empty((batch_size, X.shape[1]), model.dtype)
    y_buffer = np.empty((batch_size, k), model.dtype)
    params = [model.weights_flat, model.biases_flat]
    grads = [model.weight_grads_flat, model.bias_grads_flat]
    decay = [True, False]  # decoupled weight decay (AdamW) for weights, never biases
    base_lr = optimizer.lr
    noise_rng = rng if noise_rng is None else noise_rng
    history = History()
    best_loss, best_params, waited = math.inf, None, 0

    with np.errstate(all="ignore"):  # overflow shows up as a non-finite loss, checked below
        for epoch in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(n)
            loss_sum = 0.0
            for batch in range(steps_per_epoch):
                idx = order[batch * batch_size : (batch + 1) * batch_size]
                # mode="clip" skips the per-index bounds check: a permutation is always in range
                xb = np.take(X, idx, axis=0, out=x_buffer[: len(idx)], mode="clip")
                yb = np.take(Y, idx, axis=0, out=y_buffer[: len(idx)], mode="clip")
                if batch_transform is not None:
                    xb = batch_transform(xb, noise_rng)
                loss, dlogits = model.loss.loss_and_grad(model.forward(xb, noise_rng), yb)
                model.backward(dlogits)
                for reg in regularizers:
                    loss += reg.penalty(model)
                    reg.add_to_gradient(model)
                if not math.isfinite(loss):
                    history.diverged = True
                    break
                step = epoch * steps_per_epoch + batch
                optimizer.lr = base_lr * schedule.multiplier(step, steps_per_epoch, total_steps)
                optimizer.step(params, grads, decay=decay)
                for reg in regularizers:
                    reg.after_step(model, optimizer.lr)
                loss_sum += loss * len(idx)
            if history.diverged:
                break
            history.train_time_s.append(time.perf_counter() - start)
            history.train_loss.append(loss_sum / n)
            history.lr.append(optimizer.lr)

            if X_val is not None:
                start = time.perf_counter()
                val_loss, val_acc = model.evaluate(X_val, y_val)
                history.eval_time_s.append(time.perf_counter() - start)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                if not math.isfinite(val_loss):
                    history.diverged = True
                    break
                if patience is not None:
                    if val_loss < best_loss:
                        best_loss, best_params, waited = val_loss, model.params_flat.copy(), 0
                        history.best_epoch = epoch
                    else:
                        waited += 1
                        if waited >= patience:
                            history.stopped_early = True
                            break
            if callback is not None and callback(epoch, history):
                break
    optimizer.lr = base_lr
    if best_params is not None and not history.diverged:
        model.params_flat[...] = best_params
    return history
