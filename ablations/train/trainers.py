"""Train one resolved config and measure it: `TRAINERS[config["trainer"]](config, splits)`.

Each trainer returns the run's results (status, per-epoch history, test metrics, times). nn_core
draws from the run's independent streams (`streams.py`: initial weights, batch order, dropout and
augmentation noise), so a run's numbers depend on its config alone; runs that differ only in one
factor also share their initial weights and batch order (paired).
Each trainer declares the settings it honours (`register_trainer`); a grid that sets another
one away from its default is rejected before anything trains (`Trainer.ignored`).
"""

import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from nn_core import MLP, OPTIMIZERS, SCHEDULES, History, fit
from nn_core.registry import Registry

from ablations.data.datasets import DATASETS
from .regularization import regularization
from .streams import stream_rng, stream_setting

TRAINERS = Registry("trainer")
EVERY_SETTING = None  # `honours` of a trainer that implements every SCHEMA setting


@dataclass(frozen=True)
class Trainer:
    """`train(config, splits) -> results`, and the settings it implements: SCHEMA keys and
    component arguments (e.g. "momentum", "slope"), or EVERY_SETTING."""

    train: Callable
    honours: frozenset = EVERY_SETTING

    def __call__(self, config, splits):
        return self.train(config, splits)

    def ignored(self, config, defaults, argument_defaults):
        """The settings of a resolved `config` set away from their default (`defaults`: SCHEMA
        key -> default; `argument_defaults`: a params key such as "optimizer_params" -> its
        component's arguments -> default) that this trainer does not honour, sorted."""
        if self.honours is EVERY_SETTING:
            return []
        changed = [
            key
            for key, value in config.items()
            if key not in argument_defaults and value != defaults.get(key, value)
        ]
        changed += [
            key
            for params, arguments in argument_defaults.items()
            for key, value in config[params].items()
            if value != arguments.get(key)
        ]
        return sorted(set(changed) - self.honours)


def register_trainer(name, honours=EVERY_SETTING):
    """Decorator: add `train` to TRAINERS as `name`, honouring the settings `honours`."""

    def add(train):
        TRAINERS.register(name)(
            Trainer(train, EVERY_SETTING if honours is EVERY_SETTING else frozenset(honours))
        )
        return train

    return add


def time_to_target(history, target):
    """(epochs, train seconds) until val accuracy first reaches `target`, or (None, None)."""
    for epoch, acc in enumerate(history["val_acc"]):
        if acc >= target:
            return epoch + 1, float(sum(history["train_time_s"][: epoch + 1]))
    return None, None


N_MISCLASSIFIED_KEPT = 16
TRAIN_EVAL_ROWS = 10_000  # training rows scored at the end, for the generalization gap


def train_fit(model, X_train, y_train):
    """(loss, accuracy) in eval mode on every k-th training row (at most TRAIN_EVAL_ROWS of
    them, k = ceil(n / TRAIN_EVAL_ROWS)): the train side of the generalization gap, as cheap
    as one validation pass."""
    step = -(-len(X_train) // TRAIN_EVAL_ROWS)
    loss, acc = model.evaluate(X_train[::step], y_train[::step])
    return {"train_eval_loss": loss, "train_acc": acc}


def test_errors(y_true, y_pred, n_classes):
    """The confusion matrix (rows: true class) and the first misclassified [index, true, pred]."""
    wrong = np.flatnonzero(y_true != y_pred)[:N_MISCLASSIFIED_KEPT]
    confusion = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    return {
        "test_confusion": confusion.tolist(),
        "test_misclassified": [[int(i), int(y_true[i]), int(y_pred[i])] for i in wrong],
    }


def summarize(history, test_loss, test_acc, n_params, diverged, target, **measured):
    """A trainer's result from a History dict, with the optional fields it `measured`
    (test_errors, train_fit): records/schema.py's TRAINER fields, which the runner checks."""
    epochs, seconds = time_to_target(history, target)
    return {
        "status": "diverged" if diverged else "ok",
        "history": history,
        "epochs_run": len(history["train_loss"]),
        "test_loss": test_loss,
        "test_acc": test_acc,
        "best_val_acc": max(history["val_acc"], default=None),
        "final_val_acc": history["val_acc"][-1] if history["val_acc"] else None,
        "target_val_acc": target,
        "epochs_to_target": epochs,
        "seconds_to_target": seconds,
        "train_time_s": float(sum(history["train_time_s"])),
        "eval_time_s": float(sum(history["eval_time_s"])),
        "n_params": n_params,
        **measured,
    }


@register_trainer("nn_core")  # every setting: a setting added to SCHEMA is implemented here
def train_nn_core(config, splits):
    sizes = [splits.X_train.shape[1], *config["hidden"], splits.n_classes]
    parts = regularization(config, splits)
    model = MLP(
        sizes,
        stream_rng(config, "init"),
        activation=config["activation"],
        activation_params=config["activation_params"],
        loss=config["loss"],
        init=config["init"],
        **parts.model_kwargs,
    )
    optimizer = OPTIMIZERS.create(
        config["optimizer"], lr=config["lr"], **config["optimizer_params"]
    )
    history = fit(
        model,
        splits.X_train,
        splits.y_train,
        optimizer=optimizer,
        rng=stream_rng(config, "order"),
        noise_rng=stream_rng(config, "noise"),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        X_val=splits.X_val,
        y_val=splits.y_val,
        schedule=SCHEDULES.create(
            config["schedule"], warmup_epochs=config["warmup_epochs"], **config["schedule_params"]
        ),
        regularizers=parts.hooks,
        patience=config["patience"],
        batch_transform=parts.batch_transform,
    )
    test_loss = test_acc = None
    errors = {}
    if not history.diverged:
        test_loss, test_acc = model.evaluate(splits.X_test, splits.y_test)
        errors = {
            **test_errors(splits.y_test, model.predict(splits.X_test), splits.n_classes),
            **train_fit(model, splits.X_train, splits.y_train),
        }
    return summarize(
        history.as_dict(),
        test_loss,
        test_acc,
        model.n_params,
        history.diverged,
        DATASETS[config["dataset"]].target_val_acc,
        **errors,
    )


SKLEARN_ACTIVATION = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic"}
SKLEARN_SOLVER = {
    "sgd": {"solver": "sgd", "momentum": 0.0},
    "momentum": {"solver": "sgd", "nesterovs_momentum": False},
    "nesterov": {"solver": "sgd", "nesterovs_momentum": True},
    "adam": {"solver": "adam"},
}
SKLEARN_OPTIMIZER_ARGUMENTS = {
    "momentum": "momentum",
    "beta1": "beta_1",
    "beta2": "beta_2",
    "eps": "epsilon",
}  # ours -> MLPClassifier's
SKLEARN_HONOURS = {
    "trainer",
    "dataset",
    "seed",
    "hidden",
    "activation",
    "optimizer",
    "lr",
    "epochs",
    "batch_size",
    "l2",
    "train_size",
    "val_size",
    "normalize",
    stream_setting("split"),  # the splits are made before the trainer runs
    *SKLEARN_OPTIMIZER_ARGUMENTS,
}  # its random_state is `seed`: no other stream


def sklearn_alpha(l2, batch_size):
    """MLPClassifier's `alpha` that gives our coupled L2. Ours: loss = mean batch loss
    + l2/2 ||W||^2, dW += l2 W. scikit-learn's `_backprop` adds alpha/2 ||W||^2 and
    `_compute_loss_grad` alpha W, both divided by the batch's n_samples; so alpha = l2 * n. Exact
    for every full batch; an epoch's last, smaller batch gets a little more penalty than ours."""
    return l2 * batch_size


def sklearn_arguments(config, n_train=None):
    """MLPClassifier's keyword arguments for a resolved `config` (the batch size clipped to the
    `n_train` training rows, as MLPClassifier clips it; None: as set); ValueError for an
    activation or an optimizer it lacks. The trainer's call, and the report's account of it."""
    if config["activation"] not in SKLEARN_ACTIVATION or config["optimizer"] not in SKLEARN_SOLVER:
        raise ValueError(
            f"sklearn_mlp supports activations {sorted(SKLEARN_ACTIVATION)} and "
            f"optimizers {sorted(SKLEARN_SOLVER)}"
        )
    solver = dict(SKLEARN_SOLVER[config["optimizer"]])
    solver.update(
        {SKLEARN_OPTIMIZER_ARGUMENTS[k]: v for k, v in config["optimizer_params"].items()}
    )
    batch_size = config["batch_size"] if n_train is None else min(config["batch_size"], n_train)
    return {
        "hidden_layer_sizes": tuple(config["hidden"]),
        "activation": SKLEARN_ACTIVATION[config["activation"]],
        **solver,
        "learning_rate_init": config["lr"],
        "learning_rate": "constant",  # its default; SKLEARN_HONOURS has no schedule
        "batch_size": batch_size,
        "alpha": sklearn_alpha(config["l2"], batch_size),
        "shuffle": True,
        "random_state": config["seed"],
    }


@register_trainer("sklearn_mlp", honours=SKLEARN_HONOURS)
def train_sklearn_mlp(config, splits):
    """scikit-learn's MLPClassifier with the same architecture, epochs, batch size, lr, L2 and
    optimizer arguments, one partial_fit per epoch so that its curves are recorded like ours
    (float32 input)."""
    from sklearn.exceptions import ConvergenceWarning  # slow import: only for this trainer
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(**sklearn_arguments(config, len(splits.y_train)))
    history = History()
    classes = np.arange(splits.n_classes)
    for _ in range(config["epochs"]):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(splits.X_train, splits.y_train, classes=classes)
        history.train_time_s.append(time.perf_counter() - start)
        history.train_loss.append(float(model.loss_))
        history.lr.append(config["lr"])
        start = time.perf_counter()
        proba = model.predict_proba(splits.X_val)
        history.val_loss.append(_log_loss(proba, splits.y_val))
        history.val_acc.append(float((proba.argmax(axis=1) == splits.y_val).mean()))
        history.eval_time_s.append(time.perf_counter() - start)
    diverged = not np.isfinite(history.train_loss[-1])
    proba = model.predict_proba(splits.X_test)
    predicted = proba.argmax(axis=1)
    n_params = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    return summarize(
        history.as_dict(),
        _log_loss(proba, splits.y_test),
        float((predicted == splits.y_test).mean()),
        n_params,
        diverged,
        DATASETS[config["dataset"]].target_val_acc,
        **test_errors(splits.y_test, predicted, splits.n_classes),
    )


def _log_loss(proba, y):
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, None))))
