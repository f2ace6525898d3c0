"""A grid's records exported to an experiment tracker the user already runs (`scratchbench export
TARGET --grid NAME`); each target is an optional extra, imported only when asked for.

command  the `export` subcommand: its arguments, the grid's records read (nothing written under
         results/), one-line errors with exit 2
mlflow   one MLflow experiment per grid, one run per record (the `mlflow` extra, mlflow-skinny)

Contract: reads records only (records/), never the runner or the analysis; above the grid
language (it names a record's non-default settings by grid.config.SCHEMA), below the cli.
"""
