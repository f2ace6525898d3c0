#!/usr/bin/env python3
"""scratchbench's front door: fetch data, train the ablation grids, render the reports.

    python run_all.py                         # default grid: fetch if needed, train, report
    python run_all.py --grid smoke --jobs 2   # the 8-run grid on scikit-learn's digits
    python run_all.py --list --only dataset=mnist,optimizer=adam
Finished runs are never trained again (unless --force); interrupting loses only runs in flight.
"""
import argparse
import json
import os
import sys
from pathlib import Path

from tabulate import tabulate

from ablations.config import GridError
from ablations.datasets import DATASETS, DatasetError, default_data_dir
from ablations.expand import filter_runs
from ablations.grids import GRIDS
from ablations.idx import IdxFormatError
from ablations.runner import connect_dask, run_grid
from ablations.tuning import plan_from_results, run_tuned_grid
from nn_core.registry import unknown_name_message

ROOT = Path(__file__).resolve().parent
FETCHED_BY_DEFAULT = ("mnist", "fashion_mnist")
DEFAULT_GRIDS = ["baselines", "default"]  # the baselines first, so the default report shows them


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block) with exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv):
    parser = OneLineParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid-file", type=Path, metavar="PATH",
                        help='JSON file of extra grids, {"name": [blocks]}, as in ablations/grids.py')
    parser.add_argument("--grid", action="append", metavar="NAME",
                        help=f"grid to run, repeatable (default: {' and '.join(DEFAULT_GRIDS)}); "
                             f"one of {', '.join(GRIDS)}")
    parser.add_argument("--list", action="store_true", help="print the runs and their count, then exit")
    parser.add_argument("--only", metavar="KEY=VALUE[,KEY=VALUE]",
                        help="keep only matching runs, by axis label or setting")
    parser.add_argument("--jobs", type=positive_int, default=os.cpu_count(),
                        help="parallel workers (default: the number of cores)")
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    parser.add_argument("--reports-dir", type=Path, default=ROOT / "reports")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset cache (default: $SCRATCHBENCH_DATA_DIR or data/)")
    parser.add_argument("--force", action="store_true", help="train finished runs again")
    parser.add_argument("--report-only", action="store_true", help="render reports, train nothing")
    parser.add_argument("--fetch-data", action="store_true",
                        help="fetch and verify MNIST and Fashion-MNIST, print a table, then exit")
    args = parser.parse_args(argv)
    args.grids = dict(GRIDS)
    if args.grid_file is not None:
        args.grids.update(load_grid_file(args.grid_file, parser))
    args.grid = args.grid or DEFAULT_GRIDS
    for name in args.grid:
        if name not in args.grids:
            parser.error(f"--grid: {unknown_name_message('grid', name, args.grids)}")
    if args.backend == "dask" and not args.scheduler:
        parser.error("--backend dask needs --scheduler ADDRESS")
    for flag, path in [("--results-dir", args.results_dir), ("--reports-dir", args.reports_dir),
                       ("--data-dir", args.data_dir)]:
        if path is not None and path.exists() and not path.is_dir():
            parser.error(f"{flag}: {path} exists and is not a directory")
    return args


def load_grid_file(path, parser):
    """Grids from a JSON file: an object mapping grid names to lists of blocks."""
    try:
        grids = json.loads(Path(path).read_text())
    except OSError as err:
        parser.error(f"--grid-file: cannot read {path}: {err.strerror}")
    except ValueError as err:
        parser.error(f"--grid-file: {path} is not valid JSON ({err})")
    if not isinstance(grids, dict) or not all(isinstance(k, str) for k in grids):
        parser.error(f"--grid-file: {path} must hold an object mapping grid names to blocks")
    return grids


def fetch_data(names, data_dir):
    """Fetch each dataset (cache first), then print what was loaded and from where."""
    rows = []
    for name in names:
        dataset = DATASETS[name]
        source = dataset.fetch(data_dir, log=lambda line: print(line, file=sys.stderr),
                               progress=show_progress)
        raw = dataset.load_raw(data_dir)  # verifies every file's SHA-256 again
        n_train = len(raw["train_labels"])
        rows.append([name, n_train - dataset.val_size, dataset.val_size, len(raw["test_labels"]),
                     "yes", dataset.provenance(data_dir) if source == "cache" else source])
    print(tabulate(rows, headers=["dataset", "train", "val", "test", "checksum OK", "source"],
                   tablefmt="github"))


def show_progress(name, done, total):
    share = f"{100 * done / total:5.1f}%" if total else f"{done >> 20} MiB"
    print(f"\r  {name}: {share}", end="" if done < total else "\n", file=sys.stderr)


def render_report(grid, results_dir, reports_dir, data_dir):
    from ablations.report import render_report as render  # matplotlib: imported only to draw

    return render(grid, results_dir, reports_dir, data_dir)


def main(argv=None):
    args = parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    try:
        if args.fetch_data:
            fetch_data(FETCHED_BY_DEFAULT, data_dir)
            return 0
        plans = {name: plan_from_results(name, args.grids[name], args.results_dir)
                 for name in args.grid}
        grids = {name: plan.runs for name, plan in plans.items()}
        selected = {name: filter_runs(plan.all_runs(), args.only) for name, plan in plans.items()}
        if args.list:
            for name, runs in selected.items():
                keys = list(dict.fromkeys(k for r in runs for k in r.labels))
                print(tabulate([[r.run_id, *(r.labels.get(k, "") for k in keys)] for r in runs],
                               headers=["run_id", *keys], tablefmt="github"))
                print(f"{name}: {len(runs)} runs" + (
                    f" ({len(plans[name].tuning)} tuning runs; "
                    f"{plans[name].pending_finals} final runs pending tuning results)"
                    if plans[name].tuned else ""))
            return 0
        if args.report_only:
            for name in grids:
                print(f"report: {render_report(name, args.results_dir, args.reports_dir, data_dir)}")
            return 0
        client = connect_dask(args.scheduler) if args.backend == "dask" else None
        errors = 0
        try:
            for name, runs in grids.items():
                def train(finals, only, name=name):
                    return run_grid(name, finals, args.results_dir, data_dir, jobs=args.jobs,
                                    backend=args.backend, force=args.force, only=only,
                                    log=lambda line: print(line, file=sys.stderr))
                outcome = run_tuned_grid(name, args.grids[name], args.results_dir, train,
                                         only=args.only, force=args.force,
                                         log=lambda line: print(line, file=sys.stderr)) \
                    if plans[name].tuned else train(runs, selected[name] if args.only else None)
                if outcome.interrupted:
                    print(f"interrupted: {outcome.trained} runs finished in this session are saved "
                          f"under {args.results_dir / name}; run the same command to resume",
                          file=sys.stderr)
                    return 130
                errors += outcome.counts.get("error", 0)
                print(f"report: {render_report(name, args.results_dir, args.reports_dir, data_dir)}")
        finally:
            if client is not None:
                client.close()
        return 1 if errors else 0
    except (GridError, DatasetError, IdxFormatError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        print(f"error: cannot write {err.filename}: permission denied", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err.strerror or err} ({err.filename})", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
