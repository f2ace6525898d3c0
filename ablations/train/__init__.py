"""One config trained and measured.

trainers        TRAINERS: nn_core's MLP and scikit-learn's MLPClassifier, each declaring the
                settings it honours (the grid rejects a config that sets another)
regularization  the regularizers a config switches on, built into fit's hooks and MLP keywords
streams         the run's independent seed streams (weights, batch order, noise, split)

Contract: `TRAINERS[config["trainer"]](config, splits)` returns the trainer's part of a record
and depends on the config and the splits alone. Knows the data and nn_core, never a grid.
"""
