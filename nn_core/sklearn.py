"""`NumpyMLPClassifier`: nn_core's MLP and `fit` as a scikit-learn classifier (Pipeline,
GridSearchCV, cross_val_score), checked by scikit-learn's own estimator suite
(tests/test_estimator.py).

The one nn_core module that imports scikit-learn; `import nn_core` does not import it. Parameters
are the grid's settings (ablations/grid/config.py's SCHEMA names) and train exactly as the harness's
nn_core trainer does: an int `random_state` seeds the same independent streams (initial weights,
batch order, dropout noise) as the harness's `seed`, so the same settings give the same weights.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .model import MLP
from .optimizers import OPTIMIZERS
from .regularizers import DATA, GRADIENT, MODEL, PENALTY, REGULARIZERS
from .schedules import SCHEDULES
from .settings import fraction, number
from .streams import STREAM_IDS, stream_sequence
from .train import fit

# the regularizers' grid settings this estimator takes (every non-DATA regularizer's: a test
# fails when a new one is registered without its parameter here)
REGULARIZER_SETTINGS = (
    "l2",
    "decoupled_weight_decay",
    "dropout",
    "input_dropout",
    "label_smoothing",
    "clip_norm",
)

CHECKS = {  # parameter -> value -> problem or None (the grid's ranges)
    "lr": number(0, low_open=True),
    "epochs": number(1),
    "batch_size": number(1),
    "warmup_epochs": number(0),
    "patience": number(1),
    "validation_fraction": number(0, 1, low_open=True, high_open=True),
    "l2": number(0),
    "decoupled_weight_decay": number(0),
    "dropout": fraction,
    "input_dropout": fraction,
    "label_smoothing": fraction,
}
INTEGERS = ("epochs", "batch_size", "patience")


def stream_generators(seed):
    """{stream: np.random.Generator} for an int `seed`, drawn as the harness draws a run's."""
    return {stream: np.random.default_rng(stream_sequence(seed, stream)) for stream in STREAM_IDS}


def seed_of(random_state):
    """An int seed: `random_state` itself when an int, fresh entropy for None, else one draw from
    the RandomState it stands for (scikit-learn's `check_random_state` convention)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(
                f"random_state must be >= 0, None or a RandomState, got {random_state}"
            )
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class ContinuedSchedule:
    """A schedule resumed `epochs_done` epochs into a plan of `epochs` epochs, for partial_fit
    (one epoch per call): `epochs` calls on the same data step the learning rate as one fit of
    `epochs` epochs does; later calls keep the plan's last multiplier."""

    def __init__(self, schedule, epochs_done, epochs):
        self.schedule, self.epochs_done, self.epochs = schedule, epochs_done, epochs

    def multiplier(self, step, steps_per_epoch, total_steps):
        planned = self.epochs * steps_per_epoch
        step = min(self.epochs_done * steps_per_epoch + step, planned - 1)
        return self.schedule.multiplier(step, steps_per_epoch, planned)


class NumpyMLPClassifier(ClassifierMixin, BaseEstimator):
    """nn_core's MLP (softmax cross-entropy on the logits) trained by `nn_core.fit`, in float32.

    Parameters (the grid's settings; registry names as in nn_core's registries)
    ----------
    hidden : tuple of int, hidden layer widths.
    activation, init, optimizer, schedule : str
        ACTIVATIONS, INITIALIZERS (None: the activation's default), OPTIMIZERS, SCHEDULES names.
    activation_params, optimizer_params, schedule_params : dict or None
        The component's constructor arguments, e.g. {"momentum": 0.9}, {"slope": 0.1}.
    lr : float, base learning rate. warmup_epochs : float, the schedule's linear warmup.
    epochs : int, passes over the data in `fit` (early stopping may end it sooner).
    batch_size : int, clipped to the number of training rows.
    l2, decoupled_weight_decay, dropout, input_dropout, label_smoothing, clip_norm :
        the regularizers (REGULARIZERS), each off at 0 / None.
    early_stopping : bool
        Hold out a stratified `validation_fraction` of the rows (drawn from the split stream),
        stop after `patience` epochs without a lower validation loss and keep the best weights.
    random_state : int, None or RandomState
        An int seeds every stream exactly as the harness's `seed` does (same weights); None draws
        fresh entropy per fit.

    Attributes
    ----------
    classes_ : (k,) sorted labels. model_ : the trained MLP. n_iter_ : epochs trained.
    loss_curve_ : per-epoch mean training objective. validation_scores_ : per-epoch validation
    accuracy with early stopping, else None. best_epoch_ : the kept epoch (early stopping) or None.
    n_features_in_, feature_names_in_ : as scikit-learn sets them.
    """

    def __init__(
        self,
        hidden=(128,),
        activation="relu",
        activation_params=None,
        init=None,
        optimizer="adam",
        lr=1e-3,
        optimizer_params=None,
        epochs=10,
        batch_size=128,
        schedule="constant",
        warmup_epochs=0.0,
        schedule_params=None,
        l2=0.0,
        decoupled_weight_decay=0.0,
        dropout=0.0,
        input_dropout=0.0,
        label_smoothing=0.0,
        clip_norm=None,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        random_state=None,
    ):
        self.hidden = hidden
        self.activation = activation
        self.activation_params = activation_params
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.optimizer_params = optimizer_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.schedule_params = schedule_params
        self.l2 = l2
        self.decoupled_weight_decay = decoupled_weight_decay
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.label_smoothing = label_smoothing
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    # -- scikit-learn's API --------------------------------------------------------------------
    def fit(self, X, y):
        """Train a fresh model for `epochs` epochs on X (n, d), labels y (n,); returns self."""
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self._start(X.shape[1])
        X_val = y_val = patience = None
        if self.early_stopping:
            seed = int(self._streams["split"].integers(np.iinfo(np.int32).max))
            train, val = train_test_split(
                np.arange(len(codes)),
                test_size=self.validation_fraction,
                random_state=seed,
                stratify=codes,
            )
            train, val = np.sort(train), np.sort(val)
            X, codes, X_val, y_val = X[train], codes[train], X[val], codes[val]
            patience = self.patience
        schedule = SCHEDULES.create(
            self.schedule, warmup_epochs=self.warmup_epochs, **(self.schedule_params or {})
        )
        self._train(X, codes, self.epochs, schedule, X_val, y_val, patience)
        return self

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the model, optimizer state and random streams of the
        calls before; the first call needs `classes` (every label). `epochs` calls on the same
        data give the weights of one `fit` (without early stopping, which partial_fit ignores)."""
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("the first partial_fit needs classes=, every label y may take")
            self.classes_ = np.unique(classes)
            self._start(X.shape[1])
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={list(classes)} differs from the first call's {list(self.classes_)}"
            )
        schedule = ContinuedSchedule(
            SCHEDULES.create(
                self.schedule, warmup_epochs=self.warmup_epochs, **(self.schedule_params or {})
            ),
            self.n_iter_,
            self.epochs,
        )
        self._train(X, self._encode(y), 1, schedule)
        return self

    def predict_proba(self, X):
        """Class probabilities (n, k), columns in the order of `classes_` (float64)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._float64_twin().predict_proba(X)

    def predict(self, X):
        """The most probable label per row, shape (n,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.classes_[self._float64_twin().predict(X)]

    def _float64_twin(self):
        """The trained model with its float32 weights in float64. Prediction runs in float64
        because float32 BLAS rounds a row differently with the batch around it (by ~1e-7), and
        scikit-learn's checks ask a row's prediction not to depend on the other rows."""
        config = dict(self.model_.config, dtype=np.float64)
        twin = MLP(config.pop("sizes"), np.random.default_rng(0), **config)
        twin.params_flat[...] = self.model_.params_flat
        return twin

    # -- training --------------------------------------------------------------------------------
    def _start(self, n_features):
        """Check the parameters and build a fresh model, optimizer, regularizers and streams
        (the harness's train_nn_core, step for step)."""
        self._check_params()
        self._streams = stream_generators(seed_of(self.random_state))
        settings = {key: getattr(self, key) for key in REGULARIZER_SETTINGS}
        on = [
            r.from_settings(settings)
            for r in REGULARIZERS.values()
            if r.into != DATA and set(r.settings) <= set(settings) and r.is_on(settings)
        ]
        self._hooks = [r for r in on if r.into == PENALTY] + [r for r in on if r.into == GRADIENT]
        model_kwargs = {k: v for r in on if r.into == MODEL for k, v in r.model_kwargs().items()}
        sizes = [n_features, *self.hidden, len(self.classes_)]
        self.model_ = MLP(
            sizes,
            self._streams["init"],
            activation=self.activation,
            activation_params=self.activation_params,
            init=self.init,
            **model_kwargs,
        )
        self._optimizer = OPTIMIZERS.create(
            self.optimizer, lr=self.lr, **(self.optimizer_params or {})
        )
        self.n_iter_, self.loss_curve_ = 0, []
        self.validation_scores_ = self.best_epoch_ = None

    def _train(self, X, codes, epochs, schedule, X_val=None, y_val=None, patience=None):
        history = fit(
            self.model_,
            X,
            codes,
            optimizer=self._optimizer,
            rng=self._streams["order"],
            noise_rng=self._streams["noise"],
            epochs=epochs,
            batch_size=self.batch_size,
            X_val=X_val,
            y_val=y_val,
            schedule=schedule,
            regularizers=self._hooks,
            patience=patience,
        )
        self.n_iter_ += len(history.train_loss)
        self.loss_curve_ = self.loss_curve_ + history.train_loss
        if X_val is not None:
            self.validation_scores_, self.best_epoch_ = history.val_acc, history.best_epoch
        if history.diverged:
            warnings.warn(
                f"training diverged (a non-finite loss) after {self.n_iter_} epochs; "
                "lower lr or add clip_norm",
                RuntimeWarning,
                stacklevel=3,
            )

    def _encode(self, y):
        """Labels (n,) -> indices into `classes_`; ValueError for a label not in it."""
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"y holds labels not in classes_: {list(np.unique(y[unknown]))[:5]}; "
                f"classes_: {list(self.classes_)}"
            )
        return codes

    def _check_params(self):
        """One-line ValueError for a parameter out of range (the registries check the names)."""
        if not isinstance(self.hidden, (list, tuple)) or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
            for h in self.hidden
        ):
            raise ValueError(f"hidden must be a tuple of positive ints, got {self.hidden!r}")
        for key, check in CHECKS.items():
            value = getattr(self, key)
            kind = numbers.Integral if key in INTEGERS else numbers.Real
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(
                    f"{key} must be {'an int' if key in INTEGERS else 'a number'}, got {value!r}"
                )
            problem = check(value)
            if problem:
                raise ValueError(f"{key} {problem}")
        if self.clip_norm is not None and not (
            isinstance(self.clip_norm, numbers.Real) and self.clip_norm > 0
        ):
            raise ValueError(f"clip_norm must be None or > 0, got {self.clip_norm!r}")
