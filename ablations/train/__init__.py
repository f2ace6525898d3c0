"""One config trained and measured: TRAINERS (ablations/grid/trainer.py) filled with the
built-in trainers (trainers.py: nn_core's MLP, scikit-learn's MLPClassifier).

Contract: `TRAINERS[config["trainer"]](config, splits)` returns the trainer's part of a record
(ablations/records/schema.py), and depends on the config and the splits alone.
"""
