"""The benchmark's arithmetic and its timed parts, on tiny inputs (no timings are asserted)."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402


def test_reference_workload_is_60_4_gflop_of_matrix_products_per_epoch():
    flops = bench.matmul_flops_per_sample(bench.REFERENCE["sizes"]) * 60_000
    assert flops == pytest.approx(60.4e9, rel=1e-3)


@pytest.mark.parametrize("make", [bench.nn_core_trainer, bench.matmuls_alone,
                                  bench.optimizer_alone, bench.sklearn_trainer])
def test_each_timed_part_runs_an_epoch_and_returns_its_seconds(make):
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32)
    y = np.arange(300) % 10
    epoch = make(X, y, bench.REFERENCE, 1)
    seconds = [epoch(), epoch()]  # a second epoch reuses the same model and buffers
    assert all(isinstance(s, float) and s > 0 for s in seconds)
