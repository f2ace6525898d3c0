"""The frozen search rounds of the showcase study, each judged on validation only: lr_search
(the defaults regime's lrs), budget_search (the epochs, then the tuned_long regime),
long_search (the `long` grid's cells) and preprocessing. Their records are committed; what each
round measured is in the comments beside it and in NOTES.md.
"""

from .showcase import DATASET_LEVELS, DEFAULT_BUDGET, TUNING_SEED

LR_SEARCH = {
    "sgd": [0.03, 0.1, 0.3, 1.0],
    "momentum": [0.003, 0.01, 0.03, 0.1],
    "rmsprop": [1e-4, 3e-4, 1e-3, 3e-3],
    "adam": [3e-4, 1e-3, 3e-3, 1e-2],
    "adamw": [3e-4, 1e-3, 3e-3, 1e-2],
}

GRIDS = {
    # What chose it, measured: studies/NOTES.md, `budget_search`
    "budget_search": [
        {
            "base": {**DEFAULT_BUDGET, "seed": TUNING_SEED, "lr": 3e-3},
            "axes": {
                "dataset": DATASET_LEVELS,
                "model": [
                    {
                        "label": "leaky_relu adam l2",
                        "activation": "leaky_relu",
                        "optimizer": "adam",
                        "l2": 1e-4,
                    },
                    {
                        "label": "relu adamw",
                        "activation": "relu",
                        "optimizer": "adamw",
                        "weight_decay": 0.01,
                    },
                    {
                        "label": "relu adamw augment",
                        "activation": "relu",
                        "optimizer": "adamw",
                        "weight_decay": 0.01,
                        "augment_shift": 2,
                    },
                ],
                "epochs": [6, 10, 15, 20],
            },
        },
        {  # second round, for a longer-budget regime in the default grid: does dropout lift the
            # Fashion-MNIST plateau of the 784-256-128-10 net at 20 or 30 epochs?
            "base": {
                **DEFAULT_BUDGET,
                "seed": TUNING_SEED,
                "activation": "relu",
                "optimizer": "adamw",
                "weight_decay": 0.01,
            },
            "axes": {
                "dataset": DATASET_LEVELS[1:],
                "model": [  # round 1 has relu adamw 3e-3 without dropout at 20 epochs
                    {"label": "relu adamw 3e-3, 30 epochs", "lr": 3e-3, "epochs": 30},
                    *(
                        {
                            "label": f"relu adamw {lr} dropout 0.2, {epochs} epochs",
                            "lr": float(lr),
                            "dropout": 0.2,
                            "epochs": epochs,
                        }
                        for lr in ("3e-3", "1e-3")
                        for epochs in (20, 30)
                    ),
                ],
            },
        },
        {  # third round: wider nets at 20 epochs, leaky_relu adamw (the tuned regime's best
            # optimizer x activation on validation)
            "base": {
                **DEFAULT_BUDGET,
                "seed": TUNING_SEED,
                "activation": "leaky_relu",
                "optimizer": "adamw",
                "weight_decay": 0.01,
                "lr": 1e-3,
                "epochs": 20,
            },
            "axes": {
                "dataset": DATASET_LEVELS[1:],
                "model": [
                    {
                        "label": "512-256 leaky_relu adamw 1e-3 dropout 0.2",
                        "hidden": [512, 256],
                        "dropout": 0.2,
                    },
                    {
                        "label": "512-256 leaky_relu adamw 1e-3 dropout 0.3",
                        "hidden": [512, 256],
                        "dropout": 0.3,
                    },
                    {
                        "label": "1024-512 leaky_relu adamw 1e-3 dropout 0.3",
                        "hidden": [1024, 512],
                        "dropout": 0.3,
                    },
                ],
            },
        },
    ],
    "lr_search": [
        {
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 8,
                "optimizer": name,
                **({"momentum": 0.9} if name == "momentum" else {}),
            },
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
    # Candidates for long's Fashion-MNIST cell (standardized inputs, seed 0), judged on final
    # validation accuracy: the default architecture vs a wider one with more dropout; then,
    # around the best of those, mirrored images and more epochs.
    "long_search": [
        {
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 30,
                "dataset": "fashion_mnist",
                "normalize": "per_pixel",
                "activation": "relu",
                "seed": 0,
            },
            "axes": {
                "model": [
                    {
                        "label": "256-128 adam 3e-3 dropout 0.2",
                        "optimizer": "adam",
                        "lr": 3e-3,
                        "dropout": 0.2,
                    },
                    {
                        "label": "1024-512 adam 1e-3 dropout 0.3",
                        "hidden": [1024, 512],
                        "optimizer": "adam",
                        "lr": 1e-3,
                        "dropout": 0.3,
                    },
                    {
                        "label": "1024-512 adam 1e-3 dropout 0.5",
                        "hidden": [1024, 512],
                        "optimizer": "adam",
                        "lr": 1e-3,
                        "dropout": 0.5,
                    },
                    {
                        "label": "1024-512 adamw 1e-3 dropout 0.3",
                        "hidden": [1024, 512],
                        "optimizer": "adamw",
                        "lr": 1e-3,
                        "weight_decay": 0.05,
                        "dropout": 0.3,
                    },
                ],
            },
        },
        {  # second round, around the first round's best: mirrored images, more epochs
            "base": {
                **DEFAULT_BUDGET,
                "dataset": "fashion_mnist",
                "normalize": "per_pixel",
                "activation": "relu",
                "seed": 0,
                "hidden": [1024, 512],
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
                "dropout": 0.3,
            },
            "axes": {
                "model": [
                    {
                        "label": "1024-512 adamw dropout 0.3 flip",
                        "epochs": 30,
                        "augment_flip": True,
                    },
                    {"label": "1024-512 adamw dropout 0.3 50 epochs", "epochs": 50},
                    {
                        "label": "1024-512 adamw dropout 0.3 flip 50 epochs",
                        "epochs": 50,
                        "augment_flip": True,
                    },
                ],
            },
        },
        {  # third round, after the fair protocol replaced per-pixel standardization by one global
            # mean and std (chosen on validation by the "normalization" grid): the round-1 winner on
            # global inputs, with small shifts, mirroring, or more dropout and epochs
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 30,
                "dataset": "fashion_mnist",
                "normalize": "global",
                "activation": "relu",
                "seed": 0,
                "hidden": [1024, 512],
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
                "dropout": 0.3,
            },
            "axes": {
                "model": [
                    {"label": "1024-512 adamw dropout 0.3 global"},
                    {"label": "1024-512 adamw dropout 0.3 global shift 1", "augment_shift": 1},
                    {"label": "1024-512 adamw dropout 0.3 global flip", "augment_flip": True},
                    {
                        "label": "1024-512 adamw dropout 0.4 global 40 epochs",
                        "dropout": 0.4,
                        "epochs": 40,
                    },
                ],
            },
        },
        {  # fourth round, MNIST: long's cell under the fair protocol (global inputs, 2 px shifts)
            # measured 98.88 test against 99.05 with [0, 1] inputs under the first protocol; the
            # normalization grid's tie at 6 epochs may not hold at 30. Judged on validation (seed 0).
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 30,
                "dataset": "mnist",
                "activation": "relu",
                "seed": 0,
                "optimizer": "adam",
                "lr": 3e-3,
                "augment_shift": 2,
            },
            "axes": {
                "model": [
                    {"label": "256-128 adam shift 2 global", "normalize": "global"},
                    {"label": "256-128 adam shift 2 [0, 1]", "normalize": "none"},
                    {
                        "label": "256-128 adam shift 2 dropout 0.2 global",
                        "normalize": "global",
                        "dropout": 0.2,
                    },
                    {
                        "label": "256-128 adam shift 1 global",
                        "normalize": "global",
                        "augment_shift": 1,
                    },
                ],
            },
        },
        {  # fifth round, MNIST: round 4's cell (98.92 test on seeds 1-3, the long bar is 99.0)
            # with a wider net and small rotations (seed 0, validation)
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 30,
                "dataset": "mnist",
                "normalize": "none",
                "activation": "relu",
                "seed": 0,
                "optimizer": "adam",
                "lr": 3e-3,
                "augment_shift": 2,
            },
            "axes": {
                "model": [
                    {"label": "512-256 adam shift 2 [0, 1]", "hidden": [512, 256]},
                    {"label": "256-128 adam shift 2 rotate 10 [0, 1]", "augment_degrees": 10.0},
                    {
                        "label": "512-256 adam shift 2 rotate 10 [0, 1]",
                        "hidden": [512, 256],
                        "augment_degrees": 10.0,
                    },
                    {
                        "label": "1024-512 adam 1e-3 shift 2 rotate 10 dropout 0.2 [0, 1]",
                        "hidden": [1024, 512],
                        "lr": 1e-3,
                        "augment_degrees": 10.0,
                        "dropout": 0.2,
                    },
                ],
            },
        },
        {  # sixth round, Fashion-MNIST: round 3's cell (90.32 test on seeds 1-3, the long bar
            # is 90.5) on per-pixel standardized inputs (an option, not the default: it diverged
            # only with shifted images, and none here shifts), and with mirrored images
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 40,
                "dataset": "fashion_mnist",
                "activation": "relu",
                "seed": 0,
                "hidden": [1024, 512],
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
                "dropout": 0.4,
            },
            "axes": {
                "model": [
                    {
                        "label": "1024-512 adamw dropout 0.4 per-pixel 40 epochs",
                        "normalize": "per_pixel",
                    },
                    {
                        "label": "1024-512 adamw dropout 0.4 per-pixel flip 40 epochs",
                        "normalize": "per_pixel",
                        "augment_flip": True,
                    },
                    {
                        "label": "1024-512 adamw dropout 0.5 global flip 40 epochs",
                        "normalize": "global",
                        "dropout": 0.5,
                        "augment_flip": True,
                    },
                ],
            },
        },
        {  # seventh round, Fashion-MNIST: round 6 (at 61e891c) gave 0.9078 per-pixel, 0.9061
            # per-pixel mirrored, 0.9022 global mirrored with dropout 0.5, against round 3's 0.9075:
            # inputs and mirroring make no difference. A net of 2.8x the weights of 1024-512, with
            # more dropout, at 30 epochs
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 30,
                "dataset": "fashion_mnist",
                "normalize": "global",
                "activation": "relu",
                "seed": 0,
                "hidden": [2048, 1024],
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
            },
            "axes": {
                "model": [
                    {"label": "2048-1024 adamw dropout 0.4 global 30 epochs", "dropout": 0.4},
                    {"label": "2048-1024 adamw dropout 0.5 global 30 epochs", "dropout": 0.5},
                ],
            },
        },
        {  # eighth round, Fashion-MNIST: round 7's 2048-1024 cell measured 90.22 test on seeds
            # 1-3 (bar 90.5). Two regularizers new to nn_core: input dropout (Srivastava et al. 2014
            # drop 20% of MNIST pixels) and label smoothing (Szegedy et al. 2016), on round 3's
            # 1024-512 cell (0.9075) and on round 7's (0.9093)
            "base": {
                **DEFAULT_BUDGET,
                "epochs": 40,
                "dataset": "fashion_mnist",
                "normalize": "global",
                "activation": "relu",
                "seed": 0,
                "hidden": [1024, 512],
                "optimizer": "adamw",
                "lr": 1e-3,
                "weight_decay": 0.05,
                "dropout": 0.4,
            },
            "axes": {
                "model": [
                    {
                        "label": "1024-512 dropout 0.4 smoothing 0.1 40 epochs",
                        "label_smoothing": 0.1,
                    },
                    {
                        "label": "1024-512 dropout 0.4 input dropout 0.2 40 epochs",
                        "input_dropout": 0.2,
                    },
                    {
                        "label": "1024-512 dropout 0.4 input dropout 0.2 smoothing 0.1 40 epochs",
                        "input_dropout": 0.2,
                        "label_smoothing": 0.1,
                    },
                    {
                        "label": "1024-512 dropout 0.3 input dropout 0.2 smoothing 0.1 40 epochs",
                        "dropout": 0.3,
                        "input_dropout": 0.2,
                        "label_smoothing": 0.1,
                    },
                    {
                        "label": "2048-1024 dropout 0.4 input dropout 0.2 smoothing 0.1 30 epochs",
                        "hidden": [2048, 1024],
                        "epochs": 30,
                        "input_dropout": 0.2,
                        "label_smoothing": 0.1,
                    },
                ],
            },
        },
    ],
    # Inputs scaled to [0, 1] vs standardized with training statistics, on the strongest
    # Fashion-MNIST cell of a first default grid run; judged on validation accuracy.
    "preprocessing": [
        {
            "base": {
                **DEFAULT_BUDGET,
                "dataset": "fashion_mnist",
                "activation": "leaky_relu",
                "optimizer": "adamw",
                "lr": 3e-3,
                "weight_decay": 0.01,
            },
            "axes": {"normalize": ["none", "per_pixel"], "seed": [0, 1]},
        }
    ],
}
