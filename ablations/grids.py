"""THE file to edit: every grid, as names and numbers only (see ablations/config.py for the keys).

Add a variant of a component: one more level on its axis, e.g. in OPTIMIZER_LEVELS
    {"label": "adam_3e-4", "optimizer": "adam", "lr": 3e-4},
Add a new component: register it in nn_core (one class) and add its level here.
Rerun `python run_all.py`: only runs whose settings are new train.

How the learning rates were chosen: `python run_all.py --grid lr_search` trained every optimizer
at four learning rates (relu and tanh, both datasets, seed 0; the default budget at 8 epochs);
each level below takes the lr with the best final *validation* accuracy averaged over those four
cells (results/lr_search, reports/lr_search.md). The test set played no part.
"""

# Shared by the default grid: sized so that its 480 runs finish in <= 40 min on 2 cores
# (measured in lr_search: ~1.2 s per epoch per worker with two workers side by side).
DEFAULT_BUDGET = {
    "hidden": [256, 128],
    "epochs": 6,
    "batch_size": 128,
    "schedule": "cosine",
}

# Input preprocessing per dataset, chosen on validation: over two full runs of the default grid
# (all inputs in [0, 1], then all standardized), mean final val acc was MNIST 0.9729 vs 0.9699
# and Fashion-MNIST 0.8742 vs 0.8854; see also the "preprocessing" grid.
DATASET_LEVELS = [
    {"dataset": "mnist", "normalize": "none"},
    {"dataset": "fashion_mnist", "normalize": "per_pixel"},
]

OPTIMIZER_LEVELS = [  # mean final val acc over the lr_search cells in the comments
    {"optimizer": "sgd", "lr": 0.3},  # 0.9297 (1.0 diverged once)
    {"optimizer": "momentum", "lr": 0.1, "momentum": 0.9},  # 0.9363
    {"optimizer": "rmsprop", "lr": 3e-3},  # 0.9378
    {"optimizer": "adam", "lr": 3e-3},  # 0.9404
    {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01},  # 0.9402
]

ACTIVATION_LEVELS = ["sigmoid", "tanh", "relu", "leaky_relu"]

REGULARIZATION_LEVELS = [
    {"label": "none"},
    {"label": "l2", "l2": 1e-4},
    {"label": "dropout", "dropout": 0.2},
    {"label": "augment", "augment_shift": 2},
]

LR_SEARCH = {
    "sgd": [0.03, 0.1, 0.3, 1.0],
    "momentum": [0.003, 0.01, 0.03, 0.1],
    "rmsprop": [1e-4, 3e-4, 1e-3, 3e-3],
    "adam": [3e-4, 1e-3, 3e-3, 1e-2],
    "adamw": [3e-4, 1e-3, 3e-3, 1e-2],
}

GRIDS = {
    "default": [{
        "base": DEFAULT_BUDGET,
        "axes": {
            "dataset": DATASET_LEVELS,
            "optimizer": OPTIMIZER_LEVELS,
            "activation": ACTIVATION_LEVELS,
            "regularization": REGULARIZATION_LEVELS,
            "seed": [0, 1, 2],
        },
    }],
    "smoke": [{
        "base": {"dataset": "digits", "hidden": [32], "epochs": 20, "batch_size": 32},
        "axes": {
            "optimizer": [{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "adam", "lr": 3e-3}],
            "activation": ["relu", "tanh"],
            "regularization": [{"label": "none"}, {"label": "dropout", "dropout": 0.1}],
            "seed": [0],
        },
    }],
    "quick": [{
        "base": {**DEFAULT_BUDGET, "epochs": 5, "train_size": 10_000, "val_size": 5_000},
        "axes": {
            "dataset": ["mnist", "fashion_mnist"],
            "optimizer": OPTIMIZER_LEVELS,
            "activation": ACTIVATION_LEVELS,
            "regularization": REGULARIZATION_LEVELS,
            "seed": [0],
        },
    }],
    "lr_search": [
        {
            "base": {**DEFAULT_BUDGET, "epochs": 8, "optimizer": name,
                     **({"momentum": 0.9} if name == "momentum" else {})},
            "axes": {
                "dataset": ["mnist", "fashion_mnist"],
                "optimizer": [{"label": name, "optimizer": name}],
                "lr": lrs,
                "activation": ["relu", "tanh"],
                "seed": [0],
            },
        }
        for name, lrs in LR_SEARCH.items()
    ],
    # Headline accuracy: MNIST with the default architecture; Fashion-MNIST with the candidate
    # of "long_search" below that had the best final validation accuracy.
    "long": [
        {
            "base": {**DEFAULT_BUDGET, "epochs": 30},
            "axes": {
                "dataset": ["mnist"],
                "optimizer": [{"optimizer": "adam", "lr": 3e-3}],
                "activation": ["relu"],
                "regularization": [{"label": "dropout", "dropout": 0.2},
                                   {"label": "augment", "augment_shift": 2}],
                "seed": [0, 1, 2],
            },
        },
        {
            "base": {**DEFAULT_BUDGET, "epochs": 30, "hidden": [1024, 512], "normalize": "per_pixel"},
            "axes": {
                "dataset": ["fashion_mnist"],
                "optimizer": [{"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05}],
                "activation": ["relu"],
                "regularization": [{"label": "dropout", "dropout": 0.3}],
                "seed": [0, 1, 2],
            },
        },
    ],
    # Candidates for long's Fashion-MNIST cell (standardized inputs, seed 0), judged on final
    # validation accuracy: the default architecture vs a wider one with more dropout; then,
    # around the best of those, mirrored images and more epochs.
    "long_search": [{
        "base": {**DEFAULT_BUDGET, "epochs": 30, "dataset": "fashion_mnist", "normalize": "per_pixel",
                 "activation": "relu", "seed": 0},
        "axes": {
            "model": [
                {"label": "256-128 adam 3e-3 dropout 0.2", "optimizer": "adam", "lr": 3e-3,
                 "dropout": 0.2},
                {"label": "1024-512 adam 1e-3 dropout 0.3", "hidden": [1024, 512],
                 "optimizer": "adam", "lr": 1e-3, "dropout": 0.3},
                {"label": "1024-512 adam 1e-3 dropout 0.5", "hidden": [1024, 512],
                 "optimizer": "adam", "lr": 1e-3, "dropout": 0.5},
                {"label": "1024-512 adamw 1e-3 dropout 0.3", "hidden": [1024, 512],
                 "optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "dropout": 0.3},
            ],
        },
    }, {  # second round, around the first round's best: mirrored images, more epochs
        "base": {**DEFAULT_BUDGET, "dataset": "fashion_mnist", "normalize": "per_pixel",
                 "activation": "relu", "seed": 0, "hidden": [1024, 512], "optimizer": "adamw",
                 "lr": 1e-3, "weight_decay": 0.05, "dropout": 0.3},
        "axes": {
            "model": [
                {"label": "1024-512 adamw dropout 0.3 flip", "epochs": 30, "augment_flip": True},
                {"label": "1024-512 adamw dropout 0.3 50 epochs", "epochs": 50},
                {"label": "1024-512 adamw dropout 0.3 flip 50 epochs", "epochs": 50,
                 "augment_flip": True},
            ],
        },
    }],
    # Inputs scaled to [0, 1] vs standardized with training statistics, on the strongest
    # Fashion-MNIST cell of a first default grid run; judged on validation accuracy.
    "preprocessing": [{
        "base": {**DEFAULT_BUDGET, "dataset": "fashion_mnist", "activation": "leaky_relu",
                 "optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01},
        "axes": {"normalize": ["none", "per_pixel"], "seed": [0, 1]},
    }],
    # scikit-learn's MLPClassifier with the default grid's architecture, epochs and batch size
    # (constant lr: it has no cosine schedule), on the same splits. Runs before "default".
    "baselines": [{
        "base": {**DEFAULT_BUDGET, "trainer": "sklearn_mlp", "schedule": "constant"},
        "axes": {
            "dataset": DATASET_LEVELS,
            "optimizer": [{"optimizer": "adam", "lr": 1e-3}],
            "activation": ["relu"],
            "seed": [0, 1, 2],
        },
    }],
    # Setups of well-known numpy MLP tutorials, to set beside their published accuracy.
    "tutorials": [{
        "base": {"dataset": "mnist", "epochs": 10},
        "axes": {
            "tutorial": [
                {"label": "784-64-10 sigmoid momentum (97%)", "hidden": [64],
                 "activation": "sigmoid", "optimizer": "momentum", "lr": 0.1, "batch_size": 64},
                {"label": "784-64-10 relu sgd (93%)", "hidden": [64], "activation": "relu",
                 "optimizer": "sgd", "lr": 0.01, "batch_size": 64},
                {"label": "784-15-10 relu momentum", "hidden": [15], "activation": "relu",
                 "optimizer": "momentum", "lr": 0.01, "batch_size": 64},
                {"label": "784-128-128-10 tanh full-batch GD (80.6%)", "hidden": [128, 128],
                 "activation": "tanh", "optimizer": "sgd", "lr": 0.5, "batch_size": 60_000,
                 "epochs": 100},
            ],
            "seed": [0, 1, 2],
        },
    }],
}

# Published test accuracy of the tutorials above, by their label (for the report).
PUBLISHED_ACCURACY = {
    "784-64-10 sigmoid momentum (97%)": 0.97,
    "784-64-10 relu sgd (93%)": 0.93,
    "784-128-128-10 tanh full-batch GD (80.6%)": 0.806,
}
