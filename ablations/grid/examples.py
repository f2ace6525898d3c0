"""The built-in example grids, as names and numbers only (the keys are config.py's SCHEMA):

smoke  8 runs on scikit-learn's digits, under a minute: does everything work here?
quick  every optimizer x activation x regularization x dataset (MNIST, Fashion-MNIST) at 5 epochs
       on 10,000 images, one seed: 160 runs, a few minutes on 2 cores (the installed
       `scratchbench` runs it when no grid is named)

The levels are those this project's showcase study chose on validation (studies/showcase.py in a
checkout). A study of your own is a --study file or a --grid-file (README).
"""

BUDGET = {
    "hidden": [256, 128],
    "epochs": 5,
    "batch_size": 128,
    "schedule": "cosine",
    "train_size": 10_000,
    "val_size": 5_000,
}
OPTIMIZER_LEVELS = [
    {"optimizer": "sgd", "lr": 0.3},
    {"optimizer": "momentum", "lr": 0.1, "momentum": 0.9},
    {"optimizer": "rmsprop", "lr": 3e-3},
    {"optimizer": "adam", "lr": 3e-3},
    {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 0.01},
]
REGULARIZATION_LEVELS = [
    {"label": "none"},
    {"label": "l2", "l2": 1e-4},
    {"label": "dropout", "dropout": 0.2},
    {"label": "augment", "augment_shift": 2},
]

GRIDS = {
    "smoke": [
        {
            "base": {"dataset": "digits", "hidden": [32], "epochs": 20, "batch_size": 32},
            "axes": {
                "optimizer": [{"optimizer": "sgd", "lr": 0.1}, {"optimizer": "adam", "lr": 3e-3}],
                "activation": ["relu", "tanh"],
                "regularization": [{"label": "none"}, {"label": "dropout", "dropout": 0.1}],
                "seed": [0],
            },
        }
    ],
    "quick": [
        {
            "base": BUDGET,
            "axes": {
                "dataset": ["mnist", "fashion_mnist"],
                "optimizer": OPTIMIZER_LEVELS,
                "activation": ["sigmoid", "tanh", "relu", "leaky_relu"],
                "regularization": REGULARIZATION_LEVELS,
                "seed": [0],
            },
        }
    ],
}
