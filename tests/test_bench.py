"""The benchmark's arithmetic and its timed parts, on tiny inputs (no timings are asserted)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from nn_core import MLP, fit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench  # noqa: E402


def test_reference_workload_is_60_4_gflop_of_matrix_products_per_epoch():
    flops = bench.matmul_flops_per_sample(bench.REFERENCE["sizes"]) * 60_000
    assert flops == pytest.approx(60.4e9, rel=1e-3)


@pytest.mark.parametrize(
    "make",
    [
        bench.nn_core_trainer,
        bench.matmuls_alone,
        bench.optimizer_alone,
        bench.without_optimizer_steps,
        bench.sklearn_trainer,
    ],
)
def test_each_timed_part_runs_an_epoch_and_returns_its_seconds(make):
    rng = np.random.default_rng(0)
    X = rng.random((300, 784), dtype=np.float32)
    y = np.arange(300) % 10
    epoch = make(X, y, bench.REFERENCE, 1)
    seconds = [epoch(), epoch()]  # a second epoch reuses the same model and buffers
    assert all(isinstance(s, float) and s > 0 for s in seconds)


def fake_medians(nn_core, torch, sklearn, matmuls, without_optimizer):
    seconds = {
        "nn_core": nn_core,
        "PyTorch 2.13 CPU": torch,
        "sklearn (float32)": sklearn,
        "nn_core: matrix products alone": matmuls,
        "nn_core: epoch without optimizer steps": without_optimizer,
    }
    return {(bench.REF, name, 1): s for name, s in seconds.items()}


def test_speed_figures_are_ratios_to_the_peers_and_the_share_of_the_roof():
    medians = fake_medians(nn_core=1.0, torch=2.0, sklearn=4.0, matmuls=0.6, without_optimizer=0.7)
    flops = bench.matmul_flops_per_sample(bench.REFERENCE["sizes"]) * 60_000
    figures = bench.speed_figures(medians, 1.0, roof_1_thread=flops / 1e9, n_train=60_000)
    assert figures == pytest.approx({"nn_core/torch": 0.5, "nn_core/sklearn": 0.25, "roof": 100})
    assert bench.floor_seconds(medians) == pytest.approx(0.6 + 0.3)  # the optimizer adds 0.3 s


def test_targets_table_says_which_targets_are_met():
    measured = {
        "nn_core/torch": 0.61,
        "nn_core/sklearn": 0.49,
        "roof": 51.0,
        "grid_eff": 0.9,
        "rss_mb": 1100.0,
    }
    rows = bench.targets_table(measured, at_floor={"roof": 66.0}).splitlines()[2:]
    met = {row.split(" | ")[0].lstrip("| "): row.split(" | ")[3] for row in rows}
    assert met == {
        "nn_core epoch / PyTorch epoch, 1 thread": "no",
        "nn_core epoch / scikit-learn epoch, 1 thread": "yes",
        "% of the 1-thread GEMM roof": "no",
        "grid parallel efficiency, 2 workers": "yes",
        "both workers' RSS beyond the memory-mapped data (MB, at most)": "no",
    }
    assert rows[2].endswith("| 66.00 |") and rows[0].endswith("| - |")


def test_no_step_lets_fit_run_everything_but_the_update():
    rng = np.random.default_rng(0)
    X, y = rng.random((256, 784), dtype=np.float32), np.arange(256) % 10
    model = MLP(bench.REFERENCE["sizes"], rng)
    start = model.params_flat.copy()
    history = fit(model, X, y, optimizer=bench.NoStep(), rng=rng, epochs=1)
    np.testing.assert_array_equal(model.params_flat, start)
    assert np.any(model.grads_flat != 0) and np.isfinite(history.train_loss[0])


def test_scaling_efficiency_and_slowdown_are_against_one_worker():
    rows = bench.with_efficiency(
        {
            1: {"wall_s": 10.0, "train_s": 1.0},
            2: {"wall_s": 6.0, "train_s": 1.2},
            4: {"wall_s": 2.5, "train_s": 1.0},
        }
    )
    assert [rows[w]["efficiency"] for w in (1, 2, 4)] == pytest.approx([1.0, 10 / 12, 1.0])
    assert rows[2]["slowdown"] == pytest.approx(1.2)


def test_scaling_measures_the_worker_counts_the_machine_has():
    assert bench.worker_counts(2) == [1, 2]
    assert bench.worker_counts(12) == [1, 2, 4, 8]
    assert bench.worker_counts(64) == [1, 2, 4, 8, 16]


def test_scaling_runs_are_the_default_grids_size():
    from ablations.grid.expand import expand_grid
    from studies.showcase import DEFAULT_BUDGET

    run = expand_grid("b", bench.bench_grid([0]))[0].config
    assert run["dataset"] == "mnist"
    assert (run["hidden"], run["batch_size"]) == (
        DEFAULT_BUDGET["hidden"],
        DEFAULT_BUDGET["batch_size"],
    )
