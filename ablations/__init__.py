"""The ablation harness, in rooms by concern; imports run down this list (tests/test_layers.py):

files       atomic file writes, shared by every room
user_code   the user's modules a plugin or study rests on, found without running them, and
            their hashes (stdlib only)
data/       the datasets: fetch from the registries, verify by SHA-256, cache, split (and a
            user's own arrays)
records/    a run's record: its fields defined once (schema), its files (store), the settings
            of older schemas (legacy)
train/      one config trained and measured: the trainers (nn_core, scikit-learn's MLP), the
            regularizers built for a run, the seed streams
grid/       the grid language: a run's settings (SCHEMA, resolve, run id), blocks and their
            expansion, the regularizers' settings, the example grids
plugins     components and study files imported here and on every worker
run/        many runs: the runner and its backends (loky, Dask), tuning rounds, the plan, the
            progress and the budget
analysis/   the records read back: diagnostics, statistics and the report; never imports run/
export/     a grid's records to an experiment tracker (MLflow), each an optional extra
waves       a sequential grid's wave runner: train a seed wave (run/), take the looks from the
            records (analysis/), train only what an undecided test needs
cli         the command line

A study (grids and what their reports need) is not part of the harness: this project's own lives
in studies/ at the checkout's root, a user's in a --study file.

`__version__` is the scratchbench distribution's version (pyproject.toml reads it from here).
"""

__version__ = "0.1.0"
