"""The grid language: what a run is, and how a grid names many of them.

config          SCHEMA (every setting, its default and check), `resolve` and `run_id`
expand          blocks (base + axes) into runs, labels, --only filters
regularization  the regularizers' settings, from their declarations (nn_core/regularizers.py)
memory          the pre-flight check: would one run fit in this machine's memory
loaded          the plugins loaded here, and the code hashes a config carries for those it uses
builtins        the built-in components' code, so that a plugin that changes one is caught
examples        the built-in example grids (smoke, quick)

Contract: a resolved config is a flat JSON dict whose run id depends on its settings alone; a
bad grid is a one-line GridError before anything runs. It checks names against the component
registries below it (nn_core's, the datasets', the trainers', each declaring its settings) and
neither trains nor reads records.
"""
