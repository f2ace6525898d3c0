"""The grid language: what a run is, and how a grid names many of them.

config          SCHEMA (every setting, its default and check), `resolve` and `run_id`
expand          blocks (base + axes) into runs, labels, --only filters
streams         the independent seed streams of a run
regularization  where each regularizer plugs in (nn_core/regularizers.py declares them)
memory          the pre-flight check: would one run fit in this machine's memory
trainer         what a trainer declares (the settings it honours) and the check of a config
                against it; the trainers themselves are in ablations/train
examples        the built-in example grids (smoke, quick)

Contract: a resolved config is a flat JSON dict whose run id depends on its settings alone; a
bad grid is a one-line GridError before anything runs. Nothing here trains or reads records.
"""
