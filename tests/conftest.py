import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def data_dir(tmp_path):
    """An empty dataset cache: the tests that use it train on the bundled digits only."""
    folder = tmp_path / "data"
    folder.mkdir()
    return folder
