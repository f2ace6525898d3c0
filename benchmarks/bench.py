"""Speed of nn_core against PyTorch and scikit-learn on the same MLP, measured side by side.

    python benchmarks/bench.py            (or `make bench`, which installs torch 2.13 CPU first)

Prints a markdown table and a final summary line. Workload: 784-256-128-10 ReLU, softmax
cross-entropy, Adam lr 1e-3, batch 128, float32, one shuffled epoch over the 60,000 MNIST training
images (index-permutation batching for every implementation); median of 5 epochs after a warm-up
epoch, the implementations taking turns epoch by epoch. The roof is numpy's float32 GEMM at the
same thread count. Three more rows show where nn_core's epoch goes: its matrix products alone, at
the training shapes; its optimizer steps alone, back to back; and its epoch with the optimizer step
left out. The optimizer costs more inside the epoch (the full epoch minus the one without it) than
back to back. nn_core's floor is its matrix products alone plus that in-epoch optimizer cost: the
epoch it would take if everything else in a step were free. A last table states each of the speed
issue's targets, the measured figure, whether it is met and what the floor would give.
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ablations.data.datasets import DATASETS, default_data_dir, load_splits  # noqa: E402
from ablations.grid.expand import expand_grid  # noqa: E402
from ablations.records.store import read_records  # noqa: E402
from ablations.run.runner import ignore_ctrl_c, run_grid  # noqa: E402
from nn_core import MLP, OPTIMIZERS, fit  # noqa: E402

BATCH = 128
REFERENCE = {"sizes": [784, 256, 128, 10], "activation": "relu", "optimizer": "adam", "lr": 1e-3}
SMALL = {"sizes": [784, 64, 10], "activation": "sigmoid", "optimizer": "momentum", "lr": 0.1}
REF = "784-256-128-10 relu adam"  # the reference workload's row label
WORKER_COUNTS = (1, 2, 4, 8, 16)  # the grid-scaling table's, up to the machine's cores
# The speed issue's targets: (what is measured, its key in the figures, "<=" or ">=", bound)
TARGETS = [
    ("nn_core epoch / PyTorch epoch, 1 thread", "nn_core/torch", "<=", 0.60),
    ("nn_core epoch / scikit-learn epoch, 1 thread", "nn_core/sklearn", "<=", 0.50),
    ("% of the 1-thread GEMM roof", "roof", ">=", 80),
    ("grid parallel efficiency, 2 workers", "grid_eff", ">=", 0.90),
    ("both workers' RSS beyond the memory-mapped data (MB, at most)", "rss_mb", "<=", 1024),
]


def matmul_flops_per_sample(sizes):
    """Forward and backward matrix-product FLOPs per sample (no dx for the input layer)."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * i * o for i, o in pairs)
    weight_grads = forward
    input_grads = sum(2 * i * o for i, o in pairs[1:])
    return forward + weight_grads + input_grads


def gemm_gflops(threads, n=2048, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    with threadpool_limits(threads):
        a @ b
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times) / 1e9


class NoStep:
    """Stands in for an optimizer, so that `fit` runs every part of a training step but this one."""

    lr = 0.0

    def step(self, params, grads, decay=None):
        pass


def nn_core_trainer(X, y, spec, threads, optimizer_steps=True):
    """A function that trains one more epoch and returns its seconds."""
    rng = np.random.default_rng(0)
    model = MLP(spec["sizes"], rng, activation=spec["activation"])
    opt = OPTIMIZERS.create(spec["optimizer"], lr=spec["lr"]) if optimizer_steps else NoStep()
    return lambda: fit(
        model, X, y, optimizer=opt, rng=rng, epochs=1, batch_size=BATCH
    ).train_time_s[0]


def matmuls_alone(X, y, spec, threads):
    """nn_core's part 1 of a step, timed alone: an epoch's worth of the forward, weight-gradient
    and input-gradient matrix products, at the training shapes."""
    rng = np.random.default_rng(0)
    pairs = list(zip(spec["sizes"][:-1], spec["sizes"][1:]))
    xs = [rng.standard_normal((BATCH, i), dtype=np.float32) for i, _ in pairs]
    ws = [rng.standard_normal((i, o), dtype=np.float32) for i, o in pairs]
    dzs = [rng.standard_normal((BATCH, o), dtype=np.float32) for _, o in pairs]
    steps = -(-len(X) // BATCH)

    def epoch():
        start = time.perf_counter()
        for _ in range(steps):
            for layer, (x, w, dz) in enumerate(zip(xs, ws, dzs)):
                x @ w
                x.T @ dz
                if layer:
                    dz @ w.T
        return time.perf_counter() - start

    return epoch


def without_optimizer_steps(X, y, spec, threads):
    """nn_core's epoch with the optimizer step left out (the weights stay at their start)."""
    return nn_core_trainer(X, y, spec, threads, optimizer_steps=False)


def optimizer_alone(X, y, spec, threads):
    """nn_core's part 2 of a step, timed alone: an epoch's worth of optimizer steps over the
    model's flat weight and bias buffers."""
    rng = np.random.default_rng(0)
    model = MLP(spec["sizes"], rng, activation=spec["activation"])
    opt = OPTIMIZERS.create(spec["optimizer"], lr=spec["lr"])
    model.grads_flat[...] = rng.standard_normal(model.n_params, dtype=np.float32)
    params = [model.weights_flat, model.biases_flat]
    grads = [model.weight_grads_flat, model.bias_grads_flat]
    steps = -(-len(X) // BATCH)

    def epoch():
        start = time.perf_counter()
        for _ in range(steps):
            opt.step(params, grads, decay=[True, False])
        return time.perf_counter() - start

    return epoch


def torch_trainer(X, y, spec, threads):
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[spec["activation"]]
    layers = []
    for i, (d_in, d_out) in enumerate(zip(spec["sizes"][:-1], spec["sizes"][1:])):
        layers.append(torch.nn.Linear(d_in, d_out))
        if i < len(spec["sizes"]) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    opt = {
        "adam": lambda p: torch.optim.Adam(p, lr=spec["lr"]),
        "momentum": lambda p: torch.optim.SGD(p, lr=spec["lr"], momentum=0.9),
    }[spec["optimizer"]](model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def epoch():
        start = time.perf_counter()
        order = torch.randperm(len(X_t))
        for i in range(0, len(X_t), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    return epoch


def sklearn_trainer(X, y, spec, threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    solver = (
        {"solver": "adam"}
        if spec["optimizer"] == "adam"
        else {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False}
    )
    model = MLPClassifier(
        hidden_layer_sizes=spec["sizes"][1:-1],
        batch_size=BATCH,
        activation={"relu": "relu", "sigmoid": "logistic"}[spec["activation"]],
        learning_rate_init=spec["lr"],
        random_state=0,
        alpha=0.0,
        **solver,
    )

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.partial_fit(X, y, classes=np.arange(10))
            return time.perf_counter() - start

    return epoch


def median_epochs(trainers, threads, epochs):
    """Median epoch seconds per implementation, epochs taken in turn (one of each per round) so
    that the shared machine's drifts hit every implementation alike; round 0 is a warm-up."""
    times = {name: [] for name in trainers}
    with threadpool_limits(threads):
        for round_ in range(epochs + 1):
            for name, epoch in trainers.items():
                seconds = epoch()
                if round_:
                    times[name].append(seconds)
    return {name: statistics.median(t) for name, t in times.items()}


def bench_grid(seeds, epochs=2):
    """Runs of the default grid's size: a 784-256-128-10 MLP on MNIST, Adam, batch 128."""
    return [
        {
            "base": {
                "dataset": "mnist",
                "hidden": [256, 128],
                "epochs": epochs,
                "batch_size": BATCH,
                "optimizer": "adam",
                "lr": 1e-3,
            },
            "axes": {"activation": ["relu", "tanh"], "seed": seeds},
        }
    ]


def worker_counts(cores):
    """The worker counts the scaling table measures: those of WORKER_COUNTS this machine has."""
    return [w for w in WORKER_COUNTS if w <= cores]


def worker_start_seconds(jobs):
    """Seconds until a fresh pool of `jobs` loky worker processes has answered one trivial task
    each (a pool of its own: joblib's reusable one, warm for the timed grids, is left alone)."""
    from joblib.externals.loky import ProcessPoolExecutor

    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs, initializer=ignore_ctrl_c) as pool:
        list(pool.map(worker_pid, range(jobs)))
    return time.perf_counter() - start


def worker_pid(_task):
    return os.getpid()


def grid_scaling(data_dir, counts, runs_per_worker=4, epochs=2, rounds=2):
    """For each worker count w: the wall seconds of one fixed grid of runs_per_worker * max(counts)
    runs (the default grid's size, `epochs` each) with w loky workers, warm (workers started and
    data loaded by a first grid of w one-epoch runs), best of `rounds` rounds taken in turn; the
    parallel efficiency T1 / (w Tw); where the time goes: a fresh pool's start, each run's mean
    train seconds (and its slowdown against 1 worker: contention for memory bandwidth and
    caches), and each run's seconds outside training and evaluation (building the model, and
    loading the data where a worker missed the warm-up)."""
    timed = expand_grid(
        "bench", bench_grid(list(range(runs_per_worker * max(counts) // 2)), epochs)
    )
    rows = {w: {"wall_s": math.inf, "rss_mb": 0.0} for w in counts}
    for _ in range(rounds):
        for w in counts:
            warmup = expand_grid("warmup", bench_grid(list(range(100, 100 + -(-w // 2))), 1))
            rows[w]["start_s"] = worker_start_seconds(w)
            with tempfile.TemporaryDirectory() as results:
                run_grid("warmup", warmup, Path(results), data_dir, jobs=w, log=lambda _: None)
                start = time.perf_counter()
                run_grid("bench", timed, Path(results), data_dir, jobs=w, log=lambda _: None)
                wall = time.perf_counter() - start
                records = list(read_records(Path(results) / "bench", lambda _: None).values())
            row = rows[w]
            row["rss_mb"] = max(row["rss_mb"], *(r["worker_peak_rss_mb"] for r in records))
            if wall < row["wall_s"]:
                row.update(
                    wall_s=wall,
                    train_s=statistics.mean(r["train_time_s"] for r in records),
                    outside_s=statistics.mean(
                        r["wall_time_s"] - r["train_time_s"] - r["eval_time_s"] for r in records
                    ),
                )
    for row in rows.values():
        row["runs"] = len(timed)
    return with_efficiency(rows)


def with_efficiency(rows):
    """Add to each worker count w's row its parallel efficiency T1 / (w Tw) and the slowdown of
    its runs' training against 1 worker's (both need the row of 1 worker)."""
    for w, row in rows.items():
        row.update(
            efficiency=rows[1]["wall_s"] / (w * row["wall_s"]),
            slowdown=row["train_s"] / rows[1]["train_s"],
        )
    return rows


def scaling_table(rows):
    """Markdown table of `grid_scaling`'s rows."""
    lines = [
        "| workers | runs | wall s (warm) | parallel efficiency | fresh pool start s | "
        "train s per run | slowdown vs 1 worker | s per run outside training | "
        "peak RSS per worker MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w, r in rows.items():
        lines.append(
            f"| {w} | {r['runs']} | {r['wall_s']:.1f} | {r['efficiency']:.2f} | "
            f"{r['start_s']:.2f} | {r['train_s']:.2f} | {r['slowdown']:.2f} | "
            f"{r['outside_s']:.2f} | {r['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def data_load_seconds(data_dir):
    """What each worker pays once per dataset: MNIST's splits from the memory-mapped cache."""
    start = time.perf_counter()
    load_splits("mnist", data_dir)
    return time.perf_counter() - start


def print_scaling(data_dir, cores, rows):
    measured = ", ".join(map(str, rows))
    missing = [w for w in WORKER_COUNTS if w not in rows]
    print(
        f"Grid scaling (loky, {cores} cores; {rows[max(rows)]['runs']} runs of the default "
        f"grid's size, 2 epochs each; best of 2 rounds; workers measured: {measured}):\n"
    )
    print(scaling_table(rows))
    print(
        f"\nData load per worker (MNIST splits from the memory-mapped cache): "
        f"{data_load_seconds(data_dir):.2f} s"
    )
    if missing:
        print(
            f"Not measured: {', '.join(map(str, missing))} workers (this machine has {cores} cores)"
        )
    print("grid_eff " + " ".join(f"{w}w={r['efficiency']:.2f}" for w, r in rows.items()) + "\n")


def speed_figures(medians, seconds, roof_1_thread, n_train):
    """The speed targets' figures for a reference-workload epoch of `seconds` at 1 thread."""
    flops = matmul_flops_per_sample(REFERENCE["sizes"]) * n_train
    figures = {
        "nn_core/sklearn": seconds / medians[REF, "sklearn (float32)", 1],
        "roof": 100 * flops / seconds / 1e9 / roof_1_thread,
    }
    if (REF, "PyTorch 2.13 CPU", 1) in medians:
        figures["nn_core/torch"] = seconds / medians[REF, "PyTorch 2.13 CPU", 1]
    return figures


def floor_seconds(medians):
    """The epoch nn_core would take if all but its matrix products and optimizer steps were free:
    its matrix products alone plus what its optimizer steps add to the epoch."""
    in_epoch_optimizer = (
        medians[REF, "nn_core", 1] - medians[REF, "nn_core: epoch without optimizer steps", 1]
    )
    return medians[REF, "nn_core: matrix products alone", 1] + in_epoch_optimizer


def targets_table(measured, at_floor):
    """Markdown table: each of TARGETS, its goal, the measured figure, whether it is met, and the
    figure at nn_core's floor (`at_floor`, where it applies)."""
    lines = ["| target | goal | measured | met | at the floor |", "|---|---|---|---|---|"]
    for label, key, relation, bound in TARGETS:
        if key in measured:
            value = measured[key]
            met = value <= bound if relation == "<=" else value >= bound
            floor = f"{at_floor[key]:.2f}" if key in at_floor else "-"
            lines.append(
                f"| {label} | {relation} {bound} | {value:.2f} | {'yes' if met else 'no'} "
                f"| {floor} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (after one warm-up)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--scaling-only",
        action="store_true",
        help="only the grid-scaling table (the last part of make bench)",
    )
    parser.add_argument(
        "--runs-per-worker",
        type=int,
        default=4,
        help="the scaling grid has this many runs per worker at the most workers",
    )
    args = parser.parse_args()
    data_dir = default_data_dir()
    DATASETS["mnist"].fetch(data_dir, log=lambda line: print(line, file=sys.stderr))
    cores = os.cpu_count()
    if args.scaling_only:
        print_scaling(
            data_dir, cores, grid_scaling(data_dir, worker_counts(cores), args.runs_per_worker)
        )
        return
    load_times = []
    for _ in range(5):
        start = time.perf_counter()
        raw = DATASETS["mnist"].load_raw(data_dir)  # memory-mapped, every file's SHA-256 checked
        load_times.append(time.perf_counter() - start)
    X = np.multiply(raw["train_images"].reshape(60000, 784), np.float32(1 / 255), dtype=np.float32)
    y = np.asarray(raw["train_labels"], np.int64)
    n_train = len(X)

    mapped_mb = sum(a.nbytes for a in raw.values()) / 2**20
    del raw
    # before torch and sklearn load into this process
    grid = grid_scaling(data_dir, worker_counts(cores), args.runs_per_worker)

    peers = {"nn_core": nn_core_trainer, "sklearn (float32)": sklearn_trainer}
    if not args.no_torch:
        peers["PyTorch 2.13 CPU"] = torch_trainer
    # Where nn_core's epoch goes, timed in the same rounds (see the module docstring).
    parts = {
        "nn_core: matrix products alone": matmuls_alone,
        "nn_core: optimizer steps alone": optimizer_alone,
        "nn_core: epoch without optimizer steps": without_optimizer_steps,
    }
    roof = {t: gemm_gflops(t) for t in (1, 2)}
    rows, medians = [], {}
    for workload, spec in [(REF, REFERENCE), ("784-64-10 sigmoid momentum", SMALL)]:
        flops = matmul_flops_per_sample(spec["sizes"]) * n_train
        for threads in (1, 2):
            trainers = {
                name: make(X, y, spec, threads) for name, make in {**peers, **parts}.items()
            }
            for name, median in median_epochs(trainers, threads, args.epochs).items():
                medians[workload, name, threads] = median
                if name == "nn_core: optimizer steps alone":  # no matrix products in it
                    rows.append(f"| {workload} | {name} | {threads} | {median:.3f} | - | - |")
                    continue
                gflops = flops / median / 1e9
                rows.append(
                    f"| {workload} | {name} | {threads} | {median:.3f} | {gflops:.1f} | "
                    f"{100 * gflops / roof[threads]:.0f}% |"
                )
                print(rows[-1], file=sys.stderr)
    efficiency = grid[2]["efficiency"]

    print(
        f"GEMM roof (numpy float32, 2048^3): {roof[1]:.0f} GFLOP/s on 1 thread, {roof[2]:.0f} on 2"
    )
    print(
        f"Loading cached MNIST (memory-mapped, SHA-256 verified): median "
        f"{statistics.median(load_times):.3f} s\n"
    )
    print("| workload | implementation | threads | s/epoch (median) | GFLOP/s | % of roof |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print_scaling(data_dir, cores, grid)
    print(f"(peak RSS per worker includes {mapped_mb:.0f} MB of memory-mapped MNIST)\n")
    measured = {
        **speed_figures(medians, medians[REF, "nn_core", 1], roof[1], n_train),
        "grid_eff": efficiency,
        "rss_mb": 2 * (grid[2]["rss_mb"] - mapped_mb),
    }  # at most: twice the larger worker
    floor = floor_seconds(medians)
    at_floor = speed_figures(medians, floor, roof[1], n_train)
    print(
        "Targets (the floor: nn_core's matrix products alone plus what its optimizer steps add "
        f"to its epoch, {floor:.3f} s/epoch at 1 thread):\n"
    )
    print(targets_table(measured, at_floor))
    print(
        "\n"
        + " ".join(
            f"{key}={measured[key]:.2f}"
            for key in ("nn_core/torch", "nn_core/sklearn")
            if key in measured
        )
        + f" roof={measured['roof']:.0f}% grid_eff={efficiency:.2f}"
    )


if __name__ == "__main__":
    main()
