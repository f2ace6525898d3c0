"""A tiny IDX dataset ('tiny_idx', 4x4 images, 4 classes) served by a test HTTP server.

Imported by the test process, and by `dask worker --preload` so that the worker's DATASETS has
it too: both register it when $SCRATCHBENCH_TEST_MIRROR names the server's URL.
"""

import hashlib
import os

import numpy as np

from ablations.data.datasets import DATASETS, IdxDataset, IdxFile
from ablations.data.sources import UrlMirror

NAME = "tiny_idx"
MIRROR_ENV = "SCRATCHBENCH_TEST_MIRROR"


def arrays():
    rng = np.random.default_rng(7)
    labels = np.arange(4, dtype=np.uint8)
    return {
        "train_images": rng.integers(0, 256, (80, 4, 4), dtype=np.uint8),
        "train_labels": np.tile(labels, 20),
        "test_images": rng.integers(0, 256, (16, 4, 4), dtype=np.uint8),
        "test_labels": np.tile(labels, 4),
    }


def files():
    """split key -> (published file name, array), and the pins for them."""
    from ablations.data.idx import idx_header

    out = {}
    for key, array in arrays().items():
        data = idx_header(array.shape) + array.tobytes()
        out[key] = IdxFile(key.replace("_", "-"), array.shape, hashlib.sha256(data).hexdigest())
    return out


def register(url):
    if NAME not in DATASETS:
        DATASETS[NAME] = IdxDataset(
            NAME,
            files(),
            (UrlMirror(url),),
            image_shape=(4, 4),
            n_classes=4,
            val_size=16,
            target_val_acc=0.5,
        )


if os.environ.get(MIRROR_ENV):
    register(os.environ[MIRROR_ENV])
