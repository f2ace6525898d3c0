"""nn_core.sklearn.NumpyMLPClassifier: scikit-learn's own estimator checks, a Pipeline in
GridSearchCV against MLPClassifier on digits, the harness's trainer's weights, and the estimator's
own contracts (random_state, partial_fit, labels, early stopping). `pytest -k "estimator or
sklearn_checks"` selects this file: about 20 s of CPU, most of it the GridSearchCV comparison."""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from nn_core import REGULARIZERS
from nn_core.regularizers import DATA
from nn_core.sklearn import REGULARIZER_SETTINGS, STREAM_IDS, NumpyMLPClassifier

SMALL = dict(hidden=(16,), epochs=20, lr=0.01, batch_size=32)  # blobs > 0.83 accuracy in ~0.1 s


@parametrize_with_checks([NumpyMLPClassifier(**SMALL)])  # every check; nothing skipped or xfailed
def test_sklearn_checks(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API=1 (it then runs on numpy arrays)
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def mean_test_accuracy(search, step, seeds, digits):
    """Fit `search`, then the test accuracy of its best pipeline refitted with each of `seeds`
    as the `step`'s random_state, averaged: one seed's accuracy on 450 digits moves by about
    half a point, the mean of three by a third of that."""
    X_train, X_test, y_train, y_test = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train)
        best = search.best_estimator_
        return np.mean(
            [
                clone(best)
                .set_params(**{f"{step}__random_state": seed})
                .fit(X_train, y_train)
                .score(X_test, y_test)
                for seed in seeds
            ]
        )


def test_estimator_in_a_pipeline_grid_search_is_within_a_point_of_sklearn_mlp(digits):
    """The same architecture (one hidden layer of 64 ReLUs), budget (30 epochs of Adam, batch
    64, no early stop), search (lr x L2, 3-fold CV) and scaling for both; mean test accuracy over
    seeds 0, 1, 2. Measured with seeds b, b+1, b+2 (searched with b), b = 0..5: ours minus
    theirs from -0.52 to +0.30 points."""
    lrs, l2s, batch_size, epochs, seeds = [1e-3, 3e-3], [0.0, 1e-3], 64, 30, (0, 1, 2)
    ours = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            NumpyMLPClassifier(hidden=(64,), epochs=epochs, batch_size=batch_size, random_state=0),
        ),
        {"numpymlpclassifier__lr": lrs, "numpymlpclassifier__l2": l2s},
        cv=3,
    )
    theirs = GridSearchCV(
        make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(64,),
                max_iter=epochs,
                n_iter_no_change=epochs,
                tol=0.0,
                batch_size=batch_size,
                random_state=0,
            ),
        ),
        {
            "mlpclassifier__learning_rate_init": lrs,  # alpha = l2 * batch: trainers.sklearn_alpha
            "mlpclassifier__alpha": [l2 * batch_size for l2 in l2s],
        },
        cv=3,
    )
    ours_acc = mean_test_accuracy(ours, "numpymlpclassifier", seeds, digits)
    theirs_acc = mean_test_accuracy(theirs, "mlpclassifier", seeds, digits)
    assert theirs_acc > 0.96
    assert abs(ours_acc - theirs_acc) <= 0.01, (ours_acc, theirs_acc)


def test_estimator_gives_the_harness_trainers_weights(monkeypatch):
    """Same settings and seed: the nn_core trainer's model and the estimator's are bit-equal
    (streams, regularizer order, schedule and dropout noise included)."""
    from ablations.data.datasets import load_splits
    from ablations.grid.config import resolve
    from ablations.train import trainers
    from ablations.train.streams import split_seed

    settings = dict(
        dataset="digits",
        seed=3,
        hidden=[32, 16],
        optimizer="momentum",
        lr=0.05,
        momentum=0.8,
        epochs=3,
        batch_size=64,
        l2=1e-4,
        dropout=0.1,
        schedule="cosine",
        warmup_epochs=1.0,
        clip_norm=5.0,
    )
    config = resolve(settings)
    built = []

    class RecordedMLP(trainers.MLP):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(trainers, "MLP", RecordedMLP)
    splits = load_splits("digits", split_seed=split_seed(config))  # the runner's splits
    result = trainers.TRAINERS["nn_core"](config, splits)
    estimator = NumpyMLPClassifier(
        hidden=(32, 16),
        optimizer="momentum",
        lr=0.05,
        optimizer_params={"momentum": 0.8},
        epochs=3,
        batch_size=64,
        l2=1e-4,
        dropout=0.1,
        schedule="cosine",
        warmup_epochs=1.0,
        clip_norm=5.0,
        random_state=3,
    ).fit(splits.X_train, splits.y_train)
    assert len(built) == 1
    np.testing.assert_array_equal(estimator.model_.params_flat, built[0].params_flat)
    assert estimator.loss_curve_ == result["history"]["train_loss"]


def test_estimator_streams_are_the_harness_streams():
    from ablations.train.streams import STREAMS

    assert STREAM_IDS == {stream: stream_id for stream, (stream_id, _) in STREAMS.items()}


def test_estimator_takes_every_non_data_regularizer_setting():
    params = NumpyMLPClassifier().get_params()
    for name, regularizer in REGULARIZERS.items():
        if regularizer.into != DATA:
            assert set(regularizer.settings) <= set(REGULARIZER_SETTINGS), name
    assert set(REGULARIZER_SETTINGS) <= set(params)
    defaults = {key: s.default for r in REGULARIZERS.values() for key, s in r.settings.items()}
    assert {key: params[key] for key in REGULARIZER_SETTINGS} == {
        key: defaults[key] for key in REGULARIZER_SETTINGS
    }  # every regularizer off by default


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=200, centers=3, n_features=5, random_state=0)
    return X, y


def test_estimator_random_state_int_gives_identical_fits(blobs):
    X, y = blobs
    fits = [
        NumpyMLPClassifier(**SMALL, dropout=0.2, random_state=seed).fit(X, y).model_.params_flat
        for seed in (7, 7, 8)
    ]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.array_equal(fits[0], fits[2])
    assert fits[0].dtype == np.float32  # trained in float32


def test_estimator_partial_fit_epochs_times_is_one_fit(blobs):
    X, y = blobs
    params = dict(SMALL, epochs=4, dropout=0.2, schedule="cosine", random_state=1)
    whole = NumpyMLPClassifier(**params).fit(X, y)
    stepwise = NumpyMLPClassifier(**params)
    for _ in range(4):
        stepwise.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_array_equal(whole.model_.params_flat, stepwise.model_.params_flat)
    assert whole.loss_curve_ == stepwise.loss_curve_ and stepwise.n_iter_ == 4
    with pytest.raises(ValueError, match="classes="):
        NumpyMLPClassifier(**SMALL).partial_fit(X, y)


def test_estimator_encodes_any_labels(blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "emu"], dtype=object)[y]
    model = NumpyMLPClassifier(**SMALL, random_state=0).fit(X, names)
    assert list(model.classes_) == ["cat", "dog", "emu"]
    assert set(model.predict(X)) <= {"cat", "dog", "emu"} and model.score(X, names) > 0.9
    coded = NumpyMLPClassifier(**SMALL, random_state=0).fit(X, y + 10)
    np.testing.assert_array_equal(coded.model_.params_flat, model.model_.params_flat)
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X, np.full(len(X), "yak", dtype=object))


def test_estimator_early_stopping_keeps_the_best_epoch(blobs):
    X, y = blobs
    model = NumpyMLPClassifier(
        **dict(SMALL, epochs=60),
        early_stopping=True,
        patience=3,
        validation_fraction=0.2,
        random_state=0,
    ).fit(X, y)
    assert len(model.validation_scores_) == len(model.loss_curve_) == model.n_iter_
    assert model.n_iter_ < 60 and model.best_epoch_ == model.n_iter_ - 1 - 3
    assert NumpyMLPClassifier(**SMALL).fit(X, y).validation_scores_ is None


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(epochs=0), "epochs must be >= 1"),
        (dict(lr=-1.0), "lr must be > 0"),
        (dict(hidden=(8, 0)), "hidden must be"),
        (dict(optimizer="adamm"), "did you mean 'adam'"),
        (dict(dropout=1.0), "dropout must be < 1"),
    ],
)
def test_estimator_bad_parameters_fail_at_fit_in_one_line(blobs, params, message):
    X, y = blobs
    estimator = NumpyMLPClassifier(**params)  # nothing checked in __init__
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, y)


def test_estimator_module_is_the_only_one_importing_sklearn():
    code = "import sys, nn_core; assert 'sklearn' not in sys.modules, 'nn_core imported sklearn'"
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_estimator_example_in_docs_extending_runs_and_prints_what_the_page_says(capsys):
    page = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    section = page.split("## nn_core as a scikit-learn estimator", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, "docs/extending.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert f"It prints `{printed}`" in " ".join(section.split())
