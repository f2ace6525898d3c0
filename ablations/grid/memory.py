"""Pre-flight memory check: a run whose MLP cannot fit in this machine's memory is rejected before
anything trains, instead of being recorded as a MemoryError.

bytes = 4 (float32) * (2 P  +  S P  +  R (d_in + 3 sum(hidden + [k])))
with P the parameter count (the flat parameters and their gradients: 2 P), S the optimizer's
state arrays per parameter (counted from its own `init_state`, e.g. 3 for Adam: two moments and a
scratch buffer), and R the rows of a training batch: its input, and each layer's z, a and
backward gradient. Left out: the dataset (memory-mapped) and evaluation passes (up to
nn_core.model.EVAL_BATCH rows), so this is a floor: a run near it may still fail, but none above
it can succeed.
"""

import os

import numpy as np

from nn_core import OPTIMIZERS

from ablations.data.datasets import DATASETS

FLOAT32_BYTES = 4


def total_memory_bytes():
    """This machine's physical memory (POSIX sysconf), or None where it cannot say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def run_bytes(config):
    """The estimate above for a resolved config, in bytes."""
    dataset = DATASETS[config["dataset"]]
    sizes = [int(np.prod(dataset.image_shape)), *config["hidden"], dataset.n_classes]
    n_params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))
    optimizer = OPTIMIZERS.create(
        config["optimizer"], lr=config["lr"], **config["optimizer_params"]
    )
    state_arrays = len(optimizer.init_state(np.zeros(1, np.float32)))
    activations = config["batch_size"] * (sizes[0] + 3 * sum(sizes[1:]))
    return FLOAT32_BYTES * ((2 + state_arrays) * n_params + activations)


def memory_problem(config, available=None):
    """One line if the run cannot fit in `available` bytes (default: this machine's memory)."""
    available = total_memory_bytes() if available is None else available
    needed = run_bytes(config)
    if available is None or needed <= available:
        return None
    return (
        f"hidden {config['hidden']} needs about {needed / 2**30:,.1f} GiB (parameters, "
        f"gradients, {config['optimizer']} state and activations, float32) but this machine "
        f"has {available / 2**30:,.1f} GiB of memory"
    )
