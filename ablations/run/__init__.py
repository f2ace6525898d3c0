"""Many runs: the runner and its backends, the tuning rounds, the plan and the progress.

runner    train runs in parallel (loky) and write each record as it arrives
cluster   the same on a Dask cluster
tuning    a tuned grid: its tuning runs, the selection, then the final runs
plan      what a command will train, and how long it should take
budget    per-epoch rates measured on committed records, and estimates from them
progress  one progress bar (or log line per run) for a whole session
check     `scratchbench check`: does each new component give the same record every time

Contract: finished runs are never trained twice; every record is written by this process
only; the same seed gives the same record whatever the number or kind of workers.
"""
