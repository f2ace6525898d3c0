"""`scratchbench export TARGET --grid NAME [...]`: the records of one grid (results/<grid>/), read
without renaming or setting anything aside, handed to TARGET's exporter (EXPORTERS).

Bad input (an unknown target or grid, a grid with no records, a missing extra, a tracking URI
the tracker refuses) is one line on stderr and exit code 2, before anything is written.
"""

import argparse
import sys
from pathlib import Path

from nn_core.registry import unknown_name_message

from ablations.grid.examples import GRIDS
from ablations.records.store import GRID_FILE, read_records
from . import mlflow

EXPORTERS = {"mlflow": mlflow}  # target -> module with DEFAULT_STORE, EXTRA and export()


class ExportError(ValueError):
    """Bad input to an export; its message is one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv, root, prog):
    parser = OneLineParser(
        prog=f"{prog or 'scratchbench'} export",
        description="export a grid's records to an experiment tracker",
    )
    targets = parser.add_subparsers(
        dest="target", metavar="TARGET", required=True, parser_class=OneLineParser
    )
    for name, exporter in EXPORTERS.items():
        target = targets.add_parser(
            name,
            help=exporter.__doc__.split("\n")[0],
            description=exporter.__doc__.split("\n\n")[0],
        )
        target.add_argument(
            "--grid",
            required=True,
            metavar="NAME",
            help="the grid whose records to export (results/NAME/)",
        )
        target.add_argument(
            "--tracking-uri",
            metavar="URI",
            default=(root / exporter.DEFAULT_STORE).resolve().as_uri(),
            help=f"where to write (default: the local store {root / exporter.DEFAULT_STORE})",
        )
        target.add_argument(
            "--results-dir",
            type=Path,
            default=root / "results",
            help=f"run records (default: {root / 'results'})",
        )
    return parser.parse_args(argv)


def grid_records(grid, results_dir):
    """{run_id: record} of `grid` under `results_dir`, read only; ExportError if the grid is
    unknown (neither built in nor trained under `results_dir`, whose grids are the choices) or
    has no records."""
    folder = Path(results_dir) / grid
    if not (folder / GRID_FILE).is_file() and grid not in GRIDS:
        known = sorted(p.parent.name for p in Path(results_dir).glob(f"*/{GRID_FILE}"))
        raise ExportError(
            f"--grid: {unknown_name_message('grid', grid, known)} "
            f"(the grids trained under {results_dir})"
        )
    records = (
        read_records(
            folder, log=lambda line: print(f"warning: {line}", file=sys.stderr), set_aside=False
        )
        if folder.is_dir()
        else {}
    )
    if not records:
        raise ExportError(
            f"--grid: grid {grid!r} has no records under {folder}; train it first (--grid {grid})"
        )
    return records


def main(argv, root, prog=None):
    """The export subcommand (argv after `export`); its exit code."""
    args = parse_args(argv, Path(root), prog)
    exporter = EXPORTERS[args.target]
    try:
        records = grid_records(args.grid, args.results_dir)
        counts = exporter.export(args.grid, records, args.tracking_uri)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except exporter.MissingExtra:
        print(
            f"error: export {args.target} needs the {exporter.EXTRA!r} extra: "
            f"pip install scratchbench[{exporter.EXTRA}]",
            file=sys.stderr,
        )
        return 2
    except exporter.StoreError as err:
        print(f"error: {args.tracking_uri}: {err}", file=sys.stderr)
        return 2
    print(
        f"{args.target}: grid {args.grid} -> experiment {args.grid!r} at {args.tracking_uri}: "
        + ", ".join(f"{n} {what}" for what, n in counts.items())
    )
    return 0
