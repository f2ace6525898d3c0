"""The table from grid settings to regularizing components: complete, and each row builds its
component when (and only when) its setting is on."""
import pytest

from nn_core import REGULARIZERS
from ablations import trainers
from ablations.augment import RandomShiftRotateFlip
from ablations.config import SCHEMA, resolve
from ablations.datasets import load_splits
from ablations.regularization import (BATCH_TRANSFORM, HOOKS, MODEL, REGULARIZATION_TABLE,
                                      regularization)

# A value that switches each row on, and what it should build (one row each: a new row needs one).
ON = {
    "l2": ({"l2": 1e-3}, lambda parts: parts.hooks[0].l2 == 1e-3),
    "weight_decay": ({"decoupled_weight_decay": 0.05},
                     lambda parts: parts.hooks[0].weight_decay == 0.05),
    "grad_clip": ({"clip_norm": 2.0}, lambda parts: parts.hooks[0].max_norm == 2.0),
    "dropout": ({"dropout": 0.3}, lambda parts: parts.model_kwargs == {"dropout": 0.3}),
    "input_dropout": ({"input_dropout": 0.2},
                      lambda parts: parts.model_kwargs == {"input_dropout": 0.2}),
    "label_smoothing": ({"label_smoothing": 0.1},
                        lambda parts: parts.model_kwargs == {"label_smoothing": 0.1}),
    "augment": ({"augment_shift": 2, "augment_flip": True},
                lambda parts: isinstance(parts.batch_transform, RandomShiftRotateFlip)
                and parts.batch_transform.max_shift == 2 and parts.batch_transform.flip),
}


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits")


def test_every_registered_regularizer_has_a_row():
    hooks = {row.component for row in REGULARIZATION_TABLE if row.into == HOOKS}
    assert hooks == set(REGULARIZERS)


def test_every_row_has_a_case_and_reads_schema_settings():
    assert {row.component for row in REGULARIZATION_TABLE} == set(ON)
    for row in REGULARIZATION_TABLE:
        assert row.into in (HOOKS, MODEL, BATCH_TRANSFORM)
        assert set(row.settings) <= set(SCHEMA), row.component
    assert sum(row.into == BATCH_TRANSFORM for row in REGULARIZATION_TABLE) <= 1


def test_grad_clip_is_the_last_hook():
    hooks = [row.component for row in REGULARIZATION_TABLE if row.into == HOOKS]
    assert hooks[-1] == "grad_clip"


@pytest.mark.parametrize("component", sorted(ON))
def test_a_row_builds_its_component_only_when_its_setting_is_on(component, splits):
    settings, check = ON[component]
    parts = regularization(resolve(settings), splits)
    assert check(parts)
    assert len(parts.hooks) + len(parts.model_kwargs) + (parts.batch_transform is not None) == 1
    off = regularization(resolve({}), splits)
    assert off.hooks == [] and off.model_kwargs == {} and off.batch_transform is None


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_the_trainer_hands_each_regularizer_to_fit(name, splits, monkeypatch):
    settings = next(s for component, (s, _) in ON.items() if component == name)
    seen = {}
    real_fit = trainers.fit

    def spy(model, X, y, **kwargs):
        seen["hooks"] = [type(h) for h in kwargs["regularizers"]]
        return real_fit(model, X, y, **kwargs)

    monkeypatch.setattr(trainers, "fit", spy)
    trainers.train_nn_core(resolve({**settings, "hidden": [8], "epochs": 1}), splits)
    assert seen["hooks"] == [REGULARIZERS[name]]


def test_hooks_follow_the_table_order(splits):
    parts = regularization(resolve({"clip_norm": 1.0, "l2": 1e-4, "decoupled_weight_decay": 0.1}),
                           splits)
    assert [type(h) for h in parts.hooks] == [REGULARIZERS["l2"], REGULARIZERS["weight_decay"],
                                              REGULARIZERS["grad_clip"]]


def test_nn_core_records_train_accuracy_for_the_generalization_gap(splits):
    """Scored in eval mode on training rows: an unregularized net that memorizes digits scores
    (nearly) 100% there and less on validation."""
    result = trainers.train_nn_core(resolve({"hidden": [64], "epochs": 40, "lr": 3e-3}), splits)
    assert result["train_acc"] >= 0.99 and result["train_acc"] > result["final_val_acc"]
    broken = trainers.train_nn_core(resolve({"hidden": [64], "epochs": 1, "lr": 1e-5}), splits)
    assert broken["train_acc"] < 0.5
