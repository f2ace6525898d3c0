"""scratchbench's command line (`scratchbench`, or `python run_all.py` in a checkout): fetch data,
train the ablation grids, render the reports.

Finished runs are never trained again (unless --force); interrupting loses only runs in flight.
Every bad input is one line on stderr and exit code 2, before anything is written.
"""

import argparse
import json
import os
import re
import signal
import sys
from pathlib import Path

from nn_core.registry import unknown_name_message

from . import __version__, plugins
from .analysis.report.needs import NeedsError, ReportNeeds, report_needs
from .data.datasets import DATASETS, DatasetError, default_data_dir
from .data.idx import IdxFormatError
from .data.user_datasets import ArrayDataset
from .grid.config import GridError
from .grid.design import DESIGN_KINDS, parse_design
from .grid.examples import GRIDS
from .grid.expand import filter_runs
from .records.store import GRID_FILE
from .run.cluster import check_address
from .run.tuning import finished_records, plan_from_results, run_tuned_grid

# What trains and what reads records back (the runner: joblib and loky; the waves: pandas and
# scipy; the report: matplotlib; the commands export and check) is imported where it is used, so
# --help, --list and a slip (one line, exit 2) start without it.

FETCHED_BY_DEFAULT = ("mnist", "fashion_mnist")
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a grid is a folder: no '/', no '..'
DEFAULT_GRIDS = ["quick"]  # without a study: the built-in quick study (grid/examples.py)
EXAMPLES = """examples:
  %(prog)s                                        the study's default grids (none loaded: quick)
  %(prog)s --grid smoke --jobs 2                  8 runs on scikit-learn's digits, < 1 min
  %(prog)s --list --only dataset=mnist,optimizer=adam   what would run; nothing trained
  %(prog)s --grid quick --only activation=relu --force  retrain a subset of a grid
  %(prog)s --report-only                          re-render the reports from the records
  %(prog)s --study my_study.py --design sequential   seed waves; after each, train what is undecided
  %(prog)s --study my_study.py --jobs 2           a study's components and grids (docs/extending.md)
  %(prog)s --plugin my_pkg.components --grid-file grids.json   components from a module
  %(prog)s --fetch-data --data-dir /scratch/data  fetch and verify MNIST and Fashion-MNIST
  %(prog)s --backend dask --scheduler local:4     a local Dask cluster of 4 processes
  %(prog)s --backend dask --scheduler tcp://10.0.0.5:8786   a running Dask cluster
  %(prog)s export mlflow --grid smoke             a grid's records as MLflow runs (./mlruns)
"""


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


def parse_args(argv, root, prog=None, home_study=None):
    """Parsed and checked arguments; results/ and reports/ default to folders under `root`;
    `home_study` (run_all.py's studies) is loaded before any --study."""
    parser = OneLineParser(
        prog=prog,
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"scratchbench {__version__}")
    parser.add_argument(
        "--grid-file",
        type=Path,
        metavar="PATH",
        help='JSON file of extra grids, {"name": [blocks]}, as in '
        'ablations/grid/examples.py (and "replaces": [built-in grid names] '
        'it redefines, "reports": {grid: what its report needs})',
    )
    parser.add_argument(
        "--study",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="a Python file or importable module that may register components "
        "and defines GRIDS (and REPLACES, the built-in grids it redefines; "
        "REPORTS, what each grid's report needs; DEFAULT_GRIDS, what runs "
        "when no --grid is given, else all its grids); repeatable",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help=f"a module (or .py file) that registers components, repeatable; "
        f"also ${plugins.PLUGINS_ENV} and entry points "
        f"'{plugins.ENTRY_POINT_GROUP}'",
    )
    parser.add_argument(
        "--grid",
        action="append",
        metavar="NAME",
        help=f"grid to run, repeatable (default: the study's default grids, "
        f"else {' and '.join(DEFAULT_GRIDS)}); built in: {', '.join(GRIDS)}",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the runs and their count, then exit"
    )
    parser.add_argument(
        "--only",
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="keep only matching runs, by axis label or setting",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=os.cpu_count(),
        help="parallel workers (default: the number of cores)",
    )
    parser.add_argument(
        "--backend",
        choices=["loky", "dask"],
        default=None,
        help="loky: local processes (default); dask: a Dask cluster "
        "(the default when --scheduler is given)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler, e.g. tcp://host:8786, or local:N to start N worker processes here",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=root / "results",
        help=f"run records (default: {root / 'results'})",
    )
    parser.add_argument(
        "--reports-dir",
        type=Path,
        default=root / "reports",
        help=f"reports (default: {root / 'reports'})",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"dataset cache (default: $SCRATCHBENCH_DATA_DIR, else {default_data_dir()})",
    )
    parser.add_argument(
        "--design",
        choices=list(DESIGN_KINDS),
        default=None,
        help="full: train every run (the default); sequential: train in seed waves and, after "
        "each, only what an undecided test needs (default: what each grid declares)",
    )
    parser.add_argument("--force", action="store_true", help="train finished runs again")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="render reports, train nothing (default: every grid with results)",
    )
    parser.add_argument(
        "--fetch-data",
        action="store_true",
        help="fetch and verify MNIST and Fashion-MNIST, print a table, then exit",
    )
    args = parser.parse_args(argv)
    args.quick = (
        args.grid is None
        and not args.study
        and home_study is None
        and not (args.report_only or args.fetch_data)
    )  # the built-in quick study
    args.study = [*([home_study] if home_study else []), *args.study]
    args.grids, args.reports, study_defaults = load_extensions(args, parser)
    if args.grid is None and args.report_only:  # every report that has records to render
        args.grid = [name for name in args.grids if (args.results_dir / name / GRID_FILE).is_file()]
    args.grid = args.grid or study_defaults or DEFAULT_GRIDS
    for name in args.grid:
        if name not in args.grids:
            parser.error(f"--grid: {unknown_name_message('grid', name, args.grids)}")
    if args.backend == "loky" and args.scheduler:
        parser.error("--scheduler is for --backend dask (leave --backend out to use it)")
    args.backend = args.backend or ("dask" if args.scheduler else "loky")
    if args.backend == "dask" and not args.scheduler:
        parser.error("--backend dask needs --scheduler ADDRESS")
    if args.scheduler:
        try:
            check_address(args.scheduler)
        except GridError as err:
            parser.error(str(err))
    for flag, path in [
        ("--results-dir", args.results_dir),
        ("--reports-dir", args.reports_dir),
        ("--data-dir", args.data_dir),
    ]:
        if path is not None and path.exists() and not path.is_dir():
            parser.error(f"{flag}: {path} exists and is not a directory")
    return args


def load_grid_file(path, parser):
    """(grids, replaced, reports) from a JSON file: an object mapping grid names to lists of
    blocks, and optionally "replaces": the built-in grids it redefines, and "reports": what
    each grid's report needs (neither is a grid name)."""
    try:
        grids = json.loads(Path(path).read_text())
    except OSError as err:
        parser.error(f"--grid-file: cannot read {path}: {err.strerror}")
    except ValueError as err:
        parser.error(f"--grid-file: {path} is not valid JSON ({err})")
    if not isinstance(grids, dict) or not all(isinstance(k, str) for k in grids):
        parser.error(f"--grid-file: {path} must hold an object mapping grid names to blocks")
    replaces, reports = grids.pop("replaces", []), grids.pop("reports", {})
    if not isinstance(replaces, list) or not all(isinstance(k, str) for k in replaces):
        parser.error(f'--grid-file: {path}: "replaces" must be a list of grid names')
    if not isinstance(reports, dict):
        parser.error(f'--grid-file: {path}: "reports" must map grid names to declarations')
    return grids, set(replaces), reports


def load_extensions(args, parser):
    """Import the plugins (entry points, $SCRATCHBENCH_PLUGINS, --plugin) and the studies;
    return (every grid, every grid's report declaration (ReportNeeds), the last study's default
    grids). Built-in grids come first, then each study's, then --grid-file's; a name taken
    already is an error, unless the file says it replaces that built-in grid (a study's
    REPLACES, a grid file's "replaces")."""
    try:
        for origin, spec in [
            *plugins.specs_from_environment(),
            *(("--plugin", spec) for spec in args.plugin),
        ]:
            plugins.load(spec, origin=origin)
        studies = [(spec, plugins.load_study(spec)) for spec in args.study]
    except plugins.PluginError as err:
        parser.error(str(err))
    files = [
        (f"--study {spec}", study.grids, study.replaces, study.reports, "REPLACES = {...}")
        for spec, study in studies
    ]
    if args.grid_file is not None:
        files.append(
            (
                f"--grid-file {args.grid_file}",
                *load_grid_file(args.grid_file, parser),
                '"replaces": [...]',
            )
        )
    grids, declared, defined_by = dict(GRIDS), {}, {}
    for origin, found, replaces, reports, how in files:
        for name in sorted(replaces):
            if name not in found or name not in GRIDS:
                parser.error(
                    f"{origin}: replaces {name!r}, which it does not define"
                    if name not in found
                    else f"{origin}: replaces {name!r}, which is not a built-in grid"
                )
        for name in found:
            if not PLAIN_NAME.fullmatch(name):
                parser.error(
                    f"{origin}: grid name {name!r} is not a plain name (letters, "
                    f"digits, '_', '-', '.'; not starting with '.' or '-'): it names a "
                    f"folder under --results-dir and --reports-dir"
                )
            if name in defined_by:
                parser.error(f"{origin}: grid {name!r} is defined by {defined_by[name]} too")
            if name in GRIDS and name not in replaces:
                parser.error(
                    f"{origin}: grid {name!r} is a built-in grid; rename it, or say that "
                    f"it replaces the built-in one ({how})"
                )
            defined_by[name] = origin
        grids.update(found)
        for name in reports:
            if name not in found:
                parser.error(f"{origin}: declares the report of {name!r}, which it does not define")
        declared.update(reports)
    try:
        needs = {name: report_needs(name, declaration) for name, declaration in declared.items()}
    except NeedsError as err:
        parser.error(str(err))
    last = studies[-1][1] if studies else None
    return grids, needs, (last.default_grids or list(last.grids)) if last else []


def fetch_data(names, data_dir):
    """Fetch each dataset (cache first), then print what was loaded and from where."""
    from tabulate import tabulate

    rows = []
    for name in names:
        dataset = DATASETS[name]
        source = dataset.fetch(
            data_dir, log=lambda line: print(line, file=sys.stderr), progress=show_progress
        )
        raw = dataset.load_raw(data_dir)  # verifies every file's SHA-256 again
        n_train = len(raw["train_labels"])
        rows.append(
            [
                name,
                n_train - dataset.val_size,
                dataset.val_size,
                len(raw["test_labels"]),
                "yes",
                dataset.provenance(data_dir) if source == "cache" else source,
            ]
        )
    print(
        tabulate(
            rows,
            headers=["dataset", "train", "val", "test", "checksum OK", "source"],
            tablefmt="github",
        )
    )


def show_progress(name, done, total):
    share = f"{100 * done / total:5.1f}%" if total else f"{done >> 20} MiB"
    print(f"\r  {name}: {share}", end="" if done < total else "\n", file=sys.stderr)


def render_report(args, grid, data_dir):
    """Render `grid`'s report (with what its study declares it needs); print its path."""
    from .analysis.report import render_report as render  # matplotlib: imported only to draw

    report = render(
        grid, args.results_dir, args.reports_dir, data_dir, args.reports.get(grid, ReportNeeds())
    )
    print(f"report: {report}")


def update_index(args):
    """reports/index.md over every report under --reports-dir (analysis/report/index.py)."""
    from .analysis.report.index import write_index  # the report package imports matplotlib

    write_index(args.reports_dir)


def select(grids, only):
    """{grid: runs matching --only}; a key or value that no run of any grid has is an error."""
    if not only:
        return grids
    kept = {id(r) for r in filter_runs([r for runs in grids.values() for r in runs], only)}
    return {name: [r for r in runs if id(r) in kept] for name, runs in grids.items()}


def list_table(runs):
    """--list's table: each run's id and axis labels, and its dataset where no axis names it (a
    block's base sets it), so every run's data is on the screen."""
    from tabulate import tabulate

    keys = list(dict.fromkeys(k for r in runs for k in r.labels))
    columns = keys if "dataset" in keys else ["dataset", *keys]
    return tabulate(
        [[r.run_id, *(r.labels.get(k, r.config.get(k, "")) for k in columns)] for r in runs],
        headers=["run_id", *columns],
        tablefmt="github",
    )


def log_line(line):
    print(line, file=sys.stderr)


def main(argv=None, root=None, prog=None, home_study=None):
    """The command line; `root` holds results/ and reports/ by default (the current folder for
    the installed `scratchbench` command, the checkout for run_all.py, which also loads its
    `home_study`); `export TARGET ...` (ablations/export/) and `check ...` (run/check.py) are
    commands of their own."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        from .export.command import main as export_command

        return export_command(argv[1:], Path.cwd() if root is None else Path(root), prog)
    if argv[:1] == ["check"]:
        from .run.check import main as check_command

        return check_command(argv[1:], prog=f"{prog or 'scratchbench'} check")
    args = parse_args(argv, Path.cwd() if root is None else Path(root), prog, home_study)
    data_dir = args.data_dir or default_data_dir()
    try:
        if args.fetch_data:
            fetch_data(FETCHED_BY_DEFAULT, data_dir)
            return 0
        if args.report_only:  # the records alone: no grid planning
            for name in args.grid:
                render_report(args, name, data_dir)
            update_index(args)
            return 0
        plans = {
            name: plan_from_results(name, args.grids[name], args.results_dir) for name in args.grid
        }
        grids = {name: plan.runs for name, plan in plans.items()}
        designs = {name: grid_design(args, name) for name in args.grid}
        selected = select({name: plan.all_runs() for name, plan in plans.items()}, args.only)
        if args.list:
            for name, runs in selected.items():
                print(list_table(runs))
                print(
                    f"{name}: {len(runs)} runs"
                    + (
                        f" ({len(plans[name].tuning)} tuning runs; "
                        f"{plans[name].pending_finals} final runs pending tuning results)"
                        if plans[name].tuned
                        else ""
                    )
                )
            return 0
        from .run.plan import (
            describe_plan,
            first_run_note,
            plan_workers,
            session_plan,
            session_progress,
        )
        from .run.progress import failures_line
        from .run.runner import run_grid
        from .waves import level_labels, new_level_verdicts, run_sequential_grid

        check_extensions(selected, data_dir)
        workers, costs = plan_workers(args), session_plan(args)
        backend = OnFirstUse(lambda: connect_backend(args, data_dir, selected))
        if any(c.to_train for c in costs):  # its workers checked before anything is written
            backend.connect()
        previous_sigterm = signal.signal(signal.SIGTERM, stop_as_ctrl_c)
        for line in describe_plan(costs, workers) + ([first_run_note()] if args.quick else []):
            log_line(line)
        for name, design in designs.items():
            if design.sequential:
                log_line(design_line(name, args.grids[name], design))
        before = {name: level_labels(finished_records(args.results_dir / name)) for name in grids}
        progress = session_progress(
            costs, workers, sys.stderr, log_line, args.data_dir and str(args.data_dir)
        )
        counts = {}  # status -> runs trained this session
        try:
            for name, runs in grids.items():

                def train(finals, only, name=name):
                    return run_grid(
                        name,
                        finals,
                        args.results_dir,
                        data_dir,
                        backend=backend,
                        force=args.force,
                        only=only,
                        log=log_line,
                        progress=progress,
                    )

                state = None
                if designs[name].sequential:
                    outcome, state = run_sequential_grid(
                        name,
                        args.grids[name],
                        designs[name],
                        args.results_dir,
                        data_dir,
                        train,
                        log=log_line,
                        progress=progress,
                        before=before[name],
                    )
                elif plans[name].tuned:
                    outcome = run_tuned_grid(
                        name,
                        args.grids[name],
                        args.results_dir,
                        train,
                        only=args.only,
                        force=args.force,
                        log=log_line,
                    )
                else:
                    outcome = train(runs, selected[name] if args.only else None)
                if outcome.interrupted:
                    print(
                        f"interrupted: {outcome.trained} runs finished in this session are saved "
                        f"under {args.results_dir / name}; run the same command to resume",
                        file=sys.stderr,
                    )
                    return 130
                for status, n in outcome.counts.items():
                    counts[status] = counts.get(status, 0) + n
                render_report(args, name, data_dir)
                update_index(args)  # after each grid: an interrupted session's index is current
                for line in new_level_verdicts(
                    name, args.results_dir, data_dir, before[name], state
                ):
                    print(line)
        finally:
            progress.close()
            backend.close()
            signal.signal(signal.SIGTERM, previous_sigterm)
        log_line(failures_line(counts))
        return 1 if counts.get("error") else 0
    except (GridError, DatasetError, IdxFormatError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PermissionError as err:
        print(f"error: cannot write {err.filename}: permission denied", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. a full disk: ENOSPC
        where = f"cannot write {err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before or after training: nothing half-written to keep
        print("interrupted", file=sys.stderr)
        return 130


def grid_design(args, name):
    """grid `name`'s Design (its blocks' "design", or --design); GridError for a bad value or a
    sequential design with --force or --only (a sequential design chooses its runs itself)."""
    design = parse_design(name, args.grids[name], args.design)
    if design.sequential and (args.force or args.only):
        flag = "--force" if args.force else "--only"
        raise GridError(
            f"grid {name!r}: {flag} chooses runs by hand, and a sequential design chooses them "
            f"by its looks; use --design full with {flag}"
        )
    return design


def design_line(name, blocks, design):
    """The plan's line for a sequential grid: its waves, and that the table counts the full
    design."""
    from .waves import wave_of_design

    wave_of = wave_of_design(blocks, design)
    waves = [[s for s, w in wave_of.items() if w == v] for v in range(1, design.waves + 1)]
    return (
        f"grid {name}: sequential design, {design.waves} waves of seeds "
        f"{' | '.join(','.join(map(str, seeds)) for seeds in waves)}: wave 1 trains every cell, "
        f"then each wave only what an undecided test needs (the table above counts every run)"
    )


def stop_as_ctrl_c(signum, frame):
    """SIGTERM handler: stop as Ctrl-C does (finished runs saved, claims released, the workers
    ended through joblib's abort), instead of dying with the workers left running."""
    raise KeyboardInterrupt


def check_extensions(selected, data_dir):
    """Before anything is written: no component defined in the running script (worker processes
    cannot import it: its runs would depend on the number of workers), and every user dataset
    (user_datasets.ArrayDataset) the runs use verified into the cache. GridError or
    DatasetError otherwise."""
    in_main = plugins.defined_in_main()
    if in_main:
        raise GridError(
            f"{in_main[0]} is defined in the script being run (__main__), which worker "
            f"processes do not import; move it into a module or a study file and "
            f"load that with --plugin MODULE or --study FILE"
        )
    for name in sorted({r.config["dataset"] for runs in selected.values() for r in runs}):
        if isinstance(DATASETS[name], ArrayDataset):
            DATASETS[name].fetch(data_dir, log=log_line)


def connect_backend(args, data_dir, selected):
    """The backend, its workers checked: each loaded the plugins and has every component the
    `selected` runs ({grid: runs}) name (plugins.PluginError otherwise)."""
    if args.backend == "dask":
        from .run.cluster import connect  # dask.distributed: imported only when asked for

        backend = connect(args.scheduler, data_dir)
    else:
        from .run.runner import LokyBackend

        backend = LokyBackend(args.jobs, data_dir)
    try:
        backend.check_workers([r.config for runs in selected.values() for r in runs])
    except BaseException:
        backend.close()
        raise
    return backend


class OnFirstUse:
    """A backend connected (connect_backend) on first use, so a session whose plan trains
    nothing (every record exists) starts no loky or Dask pool; main connects it up front when
    the plan trains, so that its workers are checked before anything is written. Every
    attribute but close is the connected backend's."""

    def __init__(self, connect):
        self._connect, self._backend = connect, None

    def connect(self):
        if self._backend is None:
            self._backend = self._connect()
        return self._backend

    def __getattr__(self, name):
        return getattr(self.connect(), name)

    def close(self):
        if self._backend is not None:
            self._backend.close()
