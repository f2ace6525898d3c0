"""Grid expansion and pre-flight validation: counts, determinism, and one-line errors."""

import json
import math
from pathlib import Path

import pytest

from ablations.grid.config import SCHEMA, GridError, Setting, resolve, run_id
from ablations.records.legacy import upgrade_config
from ablations.grid.expand import expand_grid, filter_runs
from ablations.run.budget import full_plan_runs
from ablations.grid.memory import memory_problem, run_bytes, total_memory_bytes
from ablations.grid import examples
import studies
from studies.showcase import (
    ACTIVATION_LEVELS,
    DEFAULT_BUDGET,
    FINAL_SEEDS,
    LONG_BUDGET,
    LONG_DATASET_LEVELS,
    OPTIMIZER_LEVELS,
    REGULARIZATION_LEVELS,
    TUNED_OPTIMIZER_LEVELS,
)
from ablations.records.store import GRID_FILE, SCHEMA_VERSION, TUNING_FILE
from ablations.train.streams import STREAMS
from ablations.run.tuning import plan_from_results, plan_grid

GRIDS = {**examples.GRIDS, **studies.GRIDS}  # the built-in examples and this project's study

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_quick_grid_is_the_product_of_its_axes():
    runs = expand_grid("quick", GRIDS["quick"])
    axes = GRIDS["quick"][0]["axes"]
    assert len(runs) == math.prod(len(levels) for levels in axes.values()) >= 160
    assert len({r.run_id for r in runs}) == len(runs)


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_named_grid_plans_and_is_deterministic(name):
    first, second = plan_grid(name, GRIDS[name]), plan_grid(name, GRIDS[name])
    assert first.all_runs() and [r.run_id for r in first.all_runs()] == [
        r.run_id for r in second.all_runs()
    ]


def test_untuned_grids_plan_to_their_expansion():
    for name, blocks in GRIDS.items():
        if not any("tune" in block for block in blocks):
            assert plan_grid(name, blocks).runs == expand_grid(name, blocks)


def final_cells(name):
    """{cell labels without the seed: set of seeds} of a grid's final runs, all trials alike."""
    plan = plan_grid(
        name,
        GRIDS[name],
        {
            r.run_id: {"schema": SCHEMA_VERSION, "status": "ok", "final_val_acc": 0.5}
            for r in full_plan_runs(name, GRIDS[name])
        },
    )
    cells = {}
    for run in plan.runs:
        key = tuple((k, v) for k, v in run.labels.items() if k != "seed")
        cells.setdefault(key, set()).add(run.config["seed"])
    return plan, cells


def test_the_default_showcase_meets_the_issue_bar():
    """>= 160 final cells of >= 5 seeds, both datasets, the defaults and tuned regimes (and the
    longer tuned_long), the full factorial in the tuned regime, tuned on a seed that is not a
    final seed."""
    plan, cells = final_cells("default")
    assert plan.pending_finals == 0 and len(cells) >= 160
    assert all(len(seeds) >= 5 for seeds in cells.values())
    labels = [dict(key) for key in cells]
    assert {c["dataset"] for c in labels} == {"mnist", "fashion_mnist"}
    assert {c["regime"] for c in labels} == {"defaults", "tuned", "tuned_long"}
    tuned = [c for c in labels if c["regime"] == "tuned"]
    assert (
        len(tuned)
        == 2 * len(OPTIMIZER_LEVELS) * len(ACTIVATION_LEVELS) * len(REGULARIZATION_LEVELS)
        >= 160
    )
    assert not {r.config["seed"] for r in plan.tuning} & set(FINAL_SEEDS)
    assert all(level["tune"]["lr"] for level in TUNED_OPTIMIZER_LEVELS)


def test_the_long_regime_tunes_every_regularizer_cell_at_its_own_budget():
    """tuned_long: every regularizer on both datasets at LONG_BUDGET's epochs, each dataset on
    its net, the lr shared across regularizers (one selection per dataset)."""
    plan, cells = final_cells("default")
    long = [dict(key) for key in cells if dict(key)["regime"] == "tuned_long"]
    assert len(long) == 2 * len(REGULARIZATION_LEVELS)
    nets = {
        level["dataset"]: level.get("hidden", LONG_BUDGET["hidden"])
        for level in LONG_DATASET_LEVELS
    }
    runs = [r for r in plan.runs + plan.tuning if r.labels["regime"] == "tuned_long"]
    assert all(
        r.config["epochs"] == LONG_BUDGET["epochs"] > DEFAULT_BUDGET["epochs"]
        and r.config["hidden"] == nets[r.config["dataset"]]
        for r in runs
    )
    selections = [c for c in plan.cells if c["cell"]["regime"] == "tuned_long"]
    assert len(selections) == 2 and all(c["shared_over"] == ["regularization"] for c in selections)


def test_the_defaults_regime_keeps_one_lr_per_optimizer():
    plan, _ = final_cells("default")
    defaults = [r for r in plan.runs if r.labels["regime"] == "defaults"]
    lrs = {level["optimizer"]: level["lr"] for level in OPTIMIZER_LEVELS}
    assert defaults and all(r.config["lr"] == lrs[r.config["optimizer"]] for r in defaults)


def test_variance_grid_varies_one_stream_at_a_time():
    runs = expand_grid("variance", GRIDS["variance"])
    streams = [f"{s}_seed" for s in STREAMS]
    for run in runs:
        set_streams = [k for k in streams if run.config[k] is not None]
        if run.labels["varied"] == "all":
            assert set_streams == []
        else:
            assert set_streams == [f"{run.labels['varied']}_seed"] and run.config["seed"] == 0


def test_algoperf_anchor_is_the_mnist_workload():
    plan, cells = final_cells("algoperf")
    assert len(cells) == len(OPTIMIZER_LEVELS) and all(len(s) >= 3 for s in cells.values())
    for run in plan.runs:
        c = run.config
        assert (c["dataset"], c["hidden"], c["activation"]) == ("mnist", [128], "sigmoid")
        assert c["val_size"] is None and c["train_size"] is None  # 50,000 / 10,000


def test_blocks_restrict_combinations():
    blocks = [
        {"axes": {"optimizer": ["sgd", "adam"], "seed": [0, 1]}},
        {"base": {"optimizer": "adam"}, "axes": {"lr": [0.1, 0.01, 0.003]}},
    ]
    runs = expand_grid("g", blocks)
    assert len(runs) == 2 * 2 + 3


def test_optimizer_arguments_move_into_optimizer_params():
    config = resolve({"optimizer": "momentum", "momentum": 0.8, "lr": 0.1})
    assert config["optimizer_params"] == {"momentum": 0.8}
    assert set(config) == set(SCHEMA)


def test_activation_and_schedule_arguments_move_into_their_params():
    config = resolve(
        {
            "activation": "leaky_relu",
            "slope": 0.1,
            "schedule": "step",
            "gamma": 0.5,
            "step_epochs": 2,
        }
    )
    assert config["activation_params"] == {"slope": 0.1}
    assert config["schedule_params"] == {"gamma": 0.5, "step_epochs": 2.0}
    assert resolve({"activation": "leaky_relu", "activation_params": {"slope": 0.1}}) == resolve(
        {"activation": "leaky_relu", "slope": 0.1}
    )


def test_component_arguments_at_their_default_leave_the_run_id_alone():
    plain = resolve({"activation": "leaky_relu", "schedule": "cosine"})
    spelled = resolve(
        {"activation": "leaky_relu", "slope": 0.01, "schedule": "cosine", "min_factor": 0}
    )
    assert spelled == plain and spelled["activation_params"] == {}
    assert run_id(resolve({"activation": "leaky_relu", "slope": 0.2})) != run_id(plain)


def test_the_trainer_builds_components_with_their_arguments(monkeypatch):
    from ablations.train import trainers
    from ablations.data.datasets import load_splits

    seen = {}
    real_fit = trainers.fit

    def spy(model, X, y, **kwargs):
        seen["slope"] = model.dense[0].activation.slope
        seen["schedule"] = kwargs["schedule"]
        return real_fit(model, X, y, **kwargs)

    monkeypatch.setattr(trainers, "fit", spy)
    config = resolve(
        {
            "activation": "leaky_relu",
            "slope": 0.3,
            "schedule": "step",
            "gamma": 0.5,
            "step_epochs": 1,
            "hidden": [8],
            "epochs": 1,
        }
    )
    trainers.train_nn_core(config, load_splits("digits"))
    assert seen["slope"] == 0.3
    assert (seen["schedule"].gamma, seen["schedule"].step_epochs) == (0.5, 1.0)


def test_the_memory_estimate_by_hand():
    """digits 64-10-10 with sgd (one scratch array) and batch 4: P = 64*10+10 + 10*10+10 = 760;
    4 bytes * (2 P + 1 P + 4 rows * (64 + 3 * (10 + 10))) = 4 * (2280 + 496) = 11104."""
    config = resolve({"hidden": [10], "optimizer": "sgd", "batch_size": 4})
    assert run_bytes(config) == 11104
    assert memory_problem(config, available=11104) is None
    problem = memory_problem(config, available=11103)
    assert problem == (
        "hidden [10] needs about 0.0 GiB (parameters, gradients, sgd state and "
        "activations, float32) but this machine has 0.0 GiB of memory"
    )
    adam = run_bytes(resolve({"hidden": [10], "batch_size": 4}))  # two moments more
    assert adam == 11104 + 4 * 2 * 760


def test_a_net_too_large_for_this_machine_fails_pre_flight():
    with pytest.raises(GridError) as info:
        expand_grid("g", [{"base": {"hidden": [2_000_000_000]}, "axes": {"seed": [0]}}])
    message = str(info.value)
    gib = total_memory_bytes() / 2**30
    assert message.startswith("grid 'g' block 0 run 0: hidden [2000000000] needs about 5,655.0 GiB")
    assert message.endswith(f"this machine has {gib:,.1f} GiB of memory") and "\n" not in message


def test_run_id_ignores_labels_and_order():
    a = resolve({"optimizer": "adam", "lr": 0.01})
    b = resolve({"lr": 0.01, "optimizer": "adam"})
    assert run_id(a) == run_id(b) and len(run_id(a)) == 16


# Run ids leave settings at their default out (config.run_id), so a changed default would reuse
# the records of every run that relied on it. To change what grids use, set it in the grid.
# Today's SCHEMA, frozen before SCHEMA was derived from the components' declarations: each row is
# (default, accepted types, None allowed, check), the check as the messages it gives for PROBES
# (the probes not listed pass) or ("registry", kind) for a registry name.
FROZEN_SCHEMA = {  # setting: (default, types, optional, check), from SCHEMA at f56bb55
    "trainer": ("nn_core", ("str",), False, ("registry", "trainer")),
    "dataset": ("digits", ("str",), False, ("registry", "dataset")),
    "seed": (0, ("int",), False, {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"}),
    "init_seed": (
        None,
        ("int",),
        True,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "order_seed": (
        None,
        ("int",),
        True,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "noise_seed": (
        None,
        ("int",),
        True,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "split_seed": (
        None,
        ("int",),
        True,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "hidden": (
        [128],
        ("list",),
        False,
        {
            "[0]": "must be a list of positive integers, got [0]",
            "[-1]": "must be a list of positive integers, got [-1]",
            "[1.5]": "must be a list of positive integers, got [1.5]",
        },
    ),
    "activation": ("relu", ("str",), False, ("registry", "activation")),
    "loss": ("softmax_cross_entropy", ("str",), False, ("registry", "loss")),
    "init": (None, ("str",), True, ("registry", "initializer")),
    "optimizer": ("adam", ("str",), False, ("registry", "optimizer")),
    "lr": (
        0.001,
        ("float",),
        False,
        {"-1": "must be > 0, got -1", "0": "must be > 0, got 0", "inf": "must be finite, got inf"},
    ),
    "optimizer_params": ({}, ("dict",), False, None),
    "epochs": (
        10,
        ("int",),
        False,
        {
            "-1": "must be >= 1, got -1",
            "0": "must be >= 1, got 0",
            "1e-09": "must be >= 1, got 1e-09",
            "0.5": "must be >= 1, got 0.5",
            "inf": "must be finite, got inf",
        },
    ),
    "batch_size": (
        128,
        ("int",),
        False,
        {
            "-1": "must be >= 1, got -1",
            "0": "must be >= 1, got 0",
            "1e-09": "must be >= 1, got 1e-09",
            "0.5": "must be >= 1, got 0.5",
            "inf": "must be finite, got inf",
        },
    ),
    "schedule": ("constant", ("str",), False, ("registry", "schedule")),
    "warmup_epochs": (
        0.0,
        ("float",),
        False,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "l2": (
        0.0,
        ("float",),
        False,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "decoupled_weight_decay": (
        0.0,
        ("float",),
        False,
        {"-1": "must be >= 0, got -1", "inf": "must be finite, got inf"},
    ),
    "dropout": (
        0.0,
        ("float",),
        False,
        {
            "-1": "must be >= 0, got -1",
            "1": "must be < 1, got 1",
            "2": "must be < 1, got 2",
            "10": "must be < 1, got 10",
            "11": "must be < 1, got 11",
            "180": "must be < 1, got 180",
            "181": "must be < 1, got 181",
            "inf": "must be finite, got inf",
        },
    ),
    "input_dropout": (
        0.0,
        ("float",),
        False,
        {
            "-1": "must be >= 0, got -1",
            "1": "must be < 1, got 1",
            "2": "must be < 1, got 2",
            "10": "must be < 1, got 10",
            "11": "must be < 1, got 11",
            "180": "must be < 1, got 180",
            "181": "must be < 1, got 181",
            "inf": "must be finite, got inf",
        },
    ),
    "label_smoothing": (
        0.0,
        ("float",),
        False,
        {
            "-1": "must be >= 0, got -1",
            "1": "must be < 1, got 1",
            "2": "must be < 1, got 2",
            "10": "must be < 1, got 10",
            "11": "must be < 1, got 11",
            "180": "must be < 1, got 180",
            "181": "must be < 1, got 181",
            "inf": "must be finite, got inf",
        },
    ),
    "augment_shift": (
        0,
        ("int",),
        False,
        {
            "-1": "must be >= 0, got -1",
            "11": "must be <= 10, got 11",
            "180": "must be <= 10, got 180",
            "181": "must be <= 10, got 181",
            "inf": "must be finite, got inf",
        },
    ),
    "augment_degrees": (
        0.0,
        ("float",),
        False,
        {
            "-1": "must be >= 0, got -1",
            "181": "must be <= 180, got 181",
            "inf": "must be finite, got inf",
        },
    ),
    "augment_flip": (False, ("bool",), False, None),
    "clip_norm": (
        None,
        ("float",),
        True,
        {"-1": "must be > 0, got -1", "0": "must be > 0, got 0", "inf": "must be finite, got inf"},
    ),
    "patience": (
        None,
        ("int",),
        True,
        {
            "-1": "must be >= 1, got -1",
            "0": "must be >= 1, got 0",
            "1e-09": "must be >= 1, got 1e-09",
            "0.5": "must be >= 1, got 0.5",
            "inf": "must be finite, got inf",
        },
    ),
    "train_size": (
        None,
        ("int",),
        True,
        {
            "-1": "must be >= 1, got -1",
            "0": "must be >= 1, got 0",
            "1e-09": "must be >= 1, got 1e-09",
            "0.5": "must be >= 1, got 0.5",
            "inf": "must be finite, got inf",
        },
    ),
    "val_size": (
        None,
        ("int",),
        True,
        {
            "-1": "must be >= 1, got -1",
            "0": "must be >= 1, got 0",
            "1e-09": "must be >= 1, got 1e-09",
            "0.5": "must be >= 1, got 0.5",
            "inf": "must be finite, got inf",
        },
    ),
    "normalize": ("none", ("str",), False, ("registry", "normalization")),
}
PROBES = {
    "list": [[128], [1, 2], [0], [-1], [1.5]],
    "number": [-1, 0, 1e-9, 0.5, 1, 2, 10, 11, 180, 181, math.inf],
}


@pytest.mark.parametrize("key", sorted(FROZEN_SCHEMA))
def test_existing_settings_never_change(key):
    default, types, optional, check = FROZEN_SCHEMA[key]
    setting = SCHEMA[key]
    assert setting.default == default, f"{key}: defaults are part of every run id"
    assert tuple(t.__name__ for t in setting.types) == types and setting.optional == optional
    if check is None:
        assert setting.check is None
    elif isinstance(check, tuple):
        assert setting.check(setting.default) is None or setting.default is None
        assert setting.check("no_such_name").startswith(f"unknown {check[1]} 'no_such_name'")
    else:
        probes = PROBES["list" if types == ("list",) else "number"]
        assert {repr(p): setting.check(p) for p in probes if setting.check(p)} == check


def committed_run_ids(folder):
    """The run ids today's code gives the runs a committed results folder lists (grid.json, and
    tuning.json's tuning runs), through upgrade_config for records of retired settings."""
    entries = json.loads((folder / GRID_FILE).read_text())
    ids = {run_id(upgrade_config(entry["config"])) for entry in entries}
    if (folder / TUNING_FILE).is_file():
        tuning = json.loads((folder / TUNING_FILE).read_text())
        ids |= set(tuning["tuning_run_ids"]) | set(tuning["final_run_ids"])
    return ids


@pytest.mark.parametrize("name", sorted(n for n in GRIDS if (RESULTS / n / GRID_FILE).is_file()))
def test_every_committed_grid_keeps_its_run_ids(name):
    """grid.json and tuning.json were written by the code that trained the committed records:
    today's code plans every one of those runs under the same id (a new level adds runs)."""
    plan = plan_from_results(name, GRIDS[name], RESULTS)
    missing = committed_run_ids(RESULTS / name) - {r.run_id for r in plan.all_runs()}
    assert not missing, f"{len(missing)} committed runs of {name} changed their run id"


def test_a_new_setting_keeps_every_existing_run_id(monkeypatch):
    before = {r.run_id for r in expand_grid("quick", GRIDS["quick"])}
    monkeypatch.setitem(SCHEMA, "mixup_alpha", Setting(0.0, (float,)))
    after = expand_grid("quick", GRIDS["quick"])
    assert {r.run_id for r in after} == before
    assert all(r.config["mixup_alpha"] == 0.0 for r in after)
    smoothed = resolve({"dataset": "mnist", "mixup_alpha": 0.1})
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
    ({"input_dropout": -0.1}, "input_dropout: must be >= 0"),
    ({"label_smoothing": 0.1, "loss": "mse"}, "label_smoothing needs loss 'softmax_cross_entropy'"),
    ({"hidden": [64, -1]}, "positive integers"),
    ({"hidden": 64}, "hidden must be list"),
    ({"lrr": 0.1}, "unknown key 'lrr'; did you mean 'lr'"),
    ({"optimizer": "adam", "momentum": 0.9}, "unknown key 'momentum'"),
    ({"optimizer": "momentum", "momentum": "high"}, "momentum must be a finite number"),
    ({"trainer": "torch"}, "unknown trainer 'torch'"),
    ({"normalize": "per_pixle"}, "did you mean 'per_pixel'"),
    (
        {"standardize": True},
        "'standardize' is retired; standardize=True is now normalize='per_pixel'",
    ),
    ({"init_seed": -1}, "init_seed: must be >= 0"),
    ({"activation": "leaky_relu", "slop": 0.1}, "unknown key 'slop'; did you mean 'slope'?"),
    ({"slope": 0.1}, "unknown key 'slope'"),
    ({"slope": 0.1}, "('slope' is an argument of activation 'leaky_relu')"),
    (
        {"activation": "leaky_relu", "activation_params": {"slop": 0.1}},
        "unknown argument of activation 'leaky_relu' 'slop'; did you mean 'slope'? known: slope",
    ),
    (
        {"schedule": "step", "schedule_params": {"gama": 0.1}},
        "unknown argument of schedule 'step' 'gama'; did you mean 'gamma'? known: gamma, step_epochs",
    ),
    ({"activation": "leaky_relu", "slope": "steep"}, "slope must be a finite number"),
    ({"activation_params": [0.1]}, "activation_params must be a dict"),
    (
        {"optimizer": "rmsprop", "activation": "elu", "alpha": 0.5},
        "'alpha' is an argument of optimizer 'rmsprop' and of activation 'elu'; set it in "
        "optimizer_params or activation_params",
    ),
]


@pytest.mark.parametrize("settings,message", BAD_ENTRIES)
def test_bad_entries_give_one_line_naming_the_problem(settings, message):
    with pytest.raises(GridError) as info:
        expand_grid("g", [{"base": settings, "axes": {"batch_size": [16]}}])
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "blocks,message",
    [
        ([{"axes": {"seed": []}}], "axis 'seed' must be a non-empty list"),
        ([{"axes": {"seed": [0, 0]}}], "label '0' twice"),
        (
            [{"axes": {"optimizer": ["adam", {"label": "a2", "optimizer": "adam"}]}}],
            "duplicate entry",
        ),
        ([], "non-empty list of blocks"),
        ([{"axis": {}}], "a block is a dict with keys 'base'"),
    ],
)
def test_bad_grids(blocks, message):
    with pytest.raises(GridError, match=message):
        expand_grid("g", blocks)


def test_filter_runs_by_label_and_setting():
    runs = expand_grid("quick", GRIDS["quick"])
    per_optimizer = len(runs) // len(OPTIMIZER_LEVELS)
    assert len(filter_runs(runs, "dataset=mnist,optimizer=adam")) == per_optimizer // 2
    assert len(filter_runs(runs, "optimizer=adam,optimizer=sgd")) == 2 * per_optimizer
    assert len(filter_runs(runs, "epochs=5")) == len(runs)
    with pytest.raises(GridError, match="unknown key 'colour'"):
        filter_runs(runs, "colour=red")


def test_a_new_optimizer_level_is_tuned_around_its_lr_without_a_candidate_entry():
    from studies.showcase import LR_CANDIDATES, lr_candidates

    assert "nesterov" not in LR_CANDIDATES
    assert lr_candidates({"optimizer": "nesterov", "lr": 0.1}) == [0.01, 0.0316, 0.1, 0.316, 1.0]
    assert lr_candidates({"optimizer": "sgd", "lr": 0.3}) == LR_CANDIDATES["sgd"]


def test_lr_by_regularization_reselects_the_shared_lr_on_the_default_grids_tuning_runs():
    """Its unregularized runs are the default grid's tuning runs of the same cells (same
    settings, so the same run ids and numbers), and every regularizer meets every candidate."""
    runs = expand_grid("lr_by_regularization", GRIDS["lr_by_regularization"])
    tuning = {r.run_id for r in plan_grid("default", GRIDS["default"]).tuning}
    unregularized = [r for r in runs if r.labels["regularization"] == "none"]
    assert len(unregularized) == 2 * (6 + 5) and all(r.run_id in tuning for r in unregularized)
    assert all(r.run_id not in tuning for r in runs if r.labels["regularization"] != "none")
    assert len(runs) == 4 * len(unregularized) == len({r.run_id for r in runs})
