"""Grid expansion and pre-flight validation: counts, determinism, and one-line errors."""
import math

import pytest

from ablations.config import SCHEMA, GridError, Setting, resolve, run_id
from ablations.expand import expand_grid, filter_runs
from ablations.grids import GRIDS


def test_default_grid_is_480_runs_the_product_of_its_axes():
    runs = expand_grid("default", GRIDS["default"])
    axes = GRIDS["default"][0]["axes"]
    assert len(runs) == math.prod(len(levels) for levels in axes.values()) == 480
    assert len({r.run_id for r in runs}) == 480


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_named_grid_expands_and_is_deterministic(name):
    first, second = expand_grid(name, GRIDS[name]), expand_grid(name, GRIDS[name])
    assert first and [r.run_id for r in first] == [r.run_id for r in second]


def test_blocks_restrict_combinations():
    blocks = [{"axes": {"optimizer": ["sgd", "adam"], "seed": [0, 1]}},
              {"base": {"optimizer": "adam"}, "axes": {"lr": [0.1, 0.01, 0.003]}}]
    runs = expand_grid("g", blocks)
    assert len(runs) == 2 * 2 + 3


def test_optimizer_arguments_move_into_optimizer_params():
    config = resolve({"optimizer": "momentum", "momentum": 0.8, "lr": 0.1})
    assert config["optimizer_params"] == {"momentum": 0.8}
    assert set(config) == set(SCHEMA)


def test_run_id_ignores_labels_and_order():
    a = resolve({"optimizer": "adam", "lr": 0.01})
    b = resolve({"lr": 0.01, "optimizer": "adam"})
    assert run_id(a) == run_id(b) and len(run_id(a)) == 16


# Run ids leave settings at their default out (config.run_id), so a changed default would reuse
# the records of every run that relied on it. To change what grids use, set it in the grid.
FROZEN_DEFAULTS = {
    "trainer": "nn_core", "dataset": "digits", "seed": 0, "hidden": [128], "activation": "relu",
    "loss": "softmax_cross_entropy", "init": None, "optimizer": "adam", "lr": 0.001,
    "optimizer_params": {}, "epochs": 10, "batch_size": 128, "schedule": "constant",
    "warmup_epochs": 0.0, "l2": 0.0, "decoupled_weight_decay": 0.0, "dropout": 0.0,
    "augment_shift": 0, "augment_degrees": 0.0, "augment_flip": False, "clip_norm": None,
    "patience": None, "train_size": None, "val_size": None, "normalize": "none",
    "init_seed": None, "order_seed": None, "noise_seed": None, "split_seed": None,
}


def test_existing_defaults_never_change():
    for key, default in FROZEN_DEFAULTS.items():
        assert SCHEMA[key].default == default, f"{key}: defaults are part of every run id"


def test_a_new_setting_keeps_every_existing_run_id(monkeypatch):
    before = {r.run_id for r in expand_grid("default", GRIDS["default"])}
    monkeypatch.setitem(SCHEMA, "label_smoothing", Setting(0.0, (float,)))
    after = expand_grid("default", GRIDS["default"])
    assert {r.run_id for r in after} == before
    assert all(r.config["label_smoothing"] == 0.0 for r in after)
    smoothed = resolve({"dataset": "mnist", "label_smoothing": 0.1})
    assert run_id(smoothed) != run_id(resolve({"dataset": "mnist"}))


BAD_ENTRIES = [
    ({"optimizer": "adamm"}, "did you mean 'adam'"),
    ({"activation": "rellu"}, "did you mean 'relu'"),
    ({"dataset": "mnits"}, "did you mean 'mnist'"),
    ({"lr": 0}, "lr: must be > 0"),
    ({"lr": -1.0}, "lr: must be > 0"),
    ({"lr": float("nan")}, "lr: must be finite"),
    ({"lr": "fast"}, "lr must be float"),
    ({"seed": 1.5}, "seed must be int"),
    ({"seed": True}, "seed must be int"),
    ({"epochs": 0}, "epochs: must be >= 1"),
    ({"dropout": 1.0}, "dropout: must be < 1"),
    ({"hidden": [64, -1]}, "positive integers"),
    ({"hidden": 64}, "hidden must be list"),
    ({"lrr": 0.1}, "unknown key 'lrr'; did you mean 'lr'"),
    ({"optimizer": "adam", "momentum": 0.9}, "unknown key 'momentum'"),
    ({"optimizer": "momentum", "momentum": "high"}, "momentum must be a finite number"),
    ({"trainer": "torch"}, "unknown trainer 'torch'"),
    ({"normalize": "per_pixle"}, "did you mean 'per_pixel'"),
    ({"standardize": True}, "'standardize' is retired; standardize=True is now normalize='per_pixel'"),
    ({"init_seed": -1}, "init_seed: must be >= 0"),
]


@pytest.mark.parametrize("settings,message", BAD_ENTRIES)
def test_bad_entries_give_one_line_naming_the_problem(settings, message):
    with pytest.raises(GridError) as info:
        expand_grid("g", [{"base": settings, "axes": {"batch_size": [16]}}])
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("blocks,message", [
    ([{"axes": {"seed": []}}], "axis 'seed' must be a non-empty list"),
    ([{"axes": {"seed": [0, 0]}}], "label '0' twice"),
    ([{"axes": {"optimizer": ["adam", {"label": "a2", "optimizer": "adam"}]}}], "duplicate entry"),
    ([], "non-empty list of blocks"),
    ([{"axis": {}}], "a block is a dict with keys 'base'"),
])
def test_bad_grids(blocks, message):
    with pytest.raises(GridError, match=message):
        expand_grid("g", blocks)


def test_filter_runs_by_label_and_setting():
    runs = expand_grid("default", GRIDS["default"])
    assert len(filter_runs(runs, "dataset=mnist,optimizer=adam")) == 48
    assert len(filter_runs(runs, "optimizer=adam,optimizer=sgd")) == 192
    assert len(filter_runs(runs, "epochs=6")) == 480
    with pytest.raises(GridError, match="unknown key 'colour'"):
        filter_runs(runs, "colour=red")
