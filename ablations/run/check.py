"""`scratchbench check --study FILE | --plugin MODULE`: does each component a study or plugin
registers give the same record every time it trains?

One tiny config per new component (on digits, 2 epochs; `tiny_config`) is trained twice in this
process and once in a fresh one (`python -m ablations.run.check --fresh ...`), and the three
records must agree but for their times: a second run in one process that differs shows state
kept between runs (a mutable default, a class attribute), a fresh process that differs shows
randomness not drawn from the run's streams (the global RNG, the clock). One line per
component; exit 0 when every one agrees, 1 when one does not, 2 for bad input.
"""

import argparse
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from ablations import plugins
from ablations.data.datasets import DATASETS, default_data_dir
from ablations.data.user_datasets import ArrayDataset
from ablations.grid.config import GridError
from ablations.grid.expand import expand_grid
from ablations.grid.loaded import COMPONENT_SETTINGS, LOADED
from ablations.train.trainers import TRAINERS
from .runner import execute

TINY = {"dataset": "digits", "hidden": [8], "epochs": 2, "batch_size": 64, "train_size": 400}
SETTING_OF_KIND = {registry.kind: key for key, registry in COMPONENT_SETTINGS.items()}
UNTIMED = ("finished_at", "environment", "code_version", "seconds_to_target")


def tiny_config(kind, name):
    """Settings of one small run that uses the `kind` component `name`: it named, or a
    regularizer switched on at its constructor's defaults (an "on" strength)."""
    config = dict(TINY)
    if kind == "regularizer":
        regularizer = plugins.registry_of(kind)[name]
        arguments = inspect.signature(regularizer).parameters
        for key, setting in regularizer.settings.items():
            default = arguments.get(setting.argument or key)
            if default is None or default.default is default.empty:
                raise GridError(
                    f"its setting {key!r} fills no constructor argument with a "
                    f"default to switch it on with"
                )
            config[key] = default.default
    else:
        config[SETTING_OF_KIND[kind]] = name
    if kind == "dataset":
        config.pop("train_size")
    honours = TRAINERS[config.get("trainer", "nn_core")].honours
    return config if honours is None else {k: v for k, v in config.items() if k in honours}


def timeless(record):
    """A record (as JSON reads it back) without what measures time or the session."""
    record = json.loads(json.dumps(record))
    out = {k: v for k, v in record.items() if not k.endswith(("_s", "_mb")) and k not in UNTIMED}
    out["history"] = {
        k: v for k, v in (record.get("history") or {}).items() if not k.endswith("_s")
    }
    return out


def train_once(kind, name, data_dir):
    """The timeless record of the tiny run of `kind` `name`; GridError if it cannot be built."""
    (run,) = expand_grid("check", [{"base": tiny_config(kind, name)}])
    if isinstance(DATASETS[run.config["dataset"]], ArrayDataset):
        DATASETS[run.config["dataset"]].fetch(data_dir, log=lambda line: None)
    return timeless(execute(run, data_dir))


def first_difference(a, b, where=""):
    """The first key path (e.g. "history.val_acc[1]") where `a` and `b` differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else key)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next(
            filter(
                None,
                (first_difference(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))),
            ),
            None,
        )
    return None if a == b else f"{where} {a!r} != {b!r}"


def verdict(label, first, second, fresh):
    """(agrees, one line) for a component's three records."""
    if first.get("status") == "error":
        return False, f"{label}: its run failed: {first.get('error')}"
    for other, what, why in [
        (
            second,
            "a second run in this process",
            "state kept between runs: a mutable default, a class attribute?",
        ),
        (
            fresh,
            "a run in a fresh process",
            "randomness not drawn from the run's streams: the global RNG?",
        ),
    ]:
        found = first_difference(first, other)
        if found:
            return False, f"{label}: differs in {what} ({found}); {why}"
    return True, f"{label}: the same in 3 runs (twice in one process, once in a fresh one)"


def parse(argv, prog):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", action="append", default=[], metavar="FILE.py|MODULE")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE")
    parser.add_argument("--data-dir", default=None, help="dataset cache")
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.error = lambda message: parser.exit(2, f"{prog}: error: {message}\n")
    args = parser.parse_args(argv)
    if not args.study and not args.plugin:
        parser.error("name what to check: --study FILE.py|MODULE or --plugin MODULE")
    return args


def components(args):
    """Load the plugins and studies; (kind, name) of what those named on the command line
    register, in load order."""
    for origin, spec in plugins.specs_from_environment():
        plugins.load(spec, origin=origin)
    for spec in args.plugin:
        plugins.load(spec, origin="--plugin")
    for spec in args.study:
        plugins.load_study(spec)
    named = [
        p
        for p in LOADED.values()
        if p.kind == "study"
        or p.name in args.plugin
        or p.path in {str(Path(s).expanduser().resolve()) for s in args.plugin}
    ]
    return [key for p in named for key in p.registers]


def main(argv=None, prog="scratchbench check"):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse(argv, prog)
    data_dir = args.data_dir or str(default_data_dir())
    try:
        found = components(args)
    except plugins.PluginError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    if not found:
        print(
            f"{prog}: error: {', '.join(args.study + args.plugin)} registers no component",
            file=sys.stderr,
        )
        return 2
    if args.fresh:  # the child: one record per component, as JSON on stdout
        print(json.dumps({f"{k} {n}": train_once(k, n, data_dir) for k, n in found}))
        return 0
    records, lines = {}, []
    for kind, name in found:
        try:
            records[f"{kind} {name}"] = [train_once(kind, name, data_dir) for _ in range(2)]
        except (GridError, ValueError) as err:
            lines.append((False, f"{kind} {name!r}: cannot be checked: {err}"))
    child = subprocess.run(
        [sys.executable, "-m", "ablations.run.check", "--fresh", "--data-dir", data_dir, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, sys.path))},
    )
    fresh = json.loads(child.stdout) if child.returncode == 0 else {}
    for key, (first, second) in records.items():
        kind, name = key.split(" ", 1)
        if key not in fresh:
            lines.append(
                (
                    False,
                    f"{kind} {name!r}: the fresh process failed: "
                    f"{(child.stderr.strip().splitlines() or ['?'])[-1]}",
                )
            )
            continue
        lines.append(verdict(f"{kind} {name!r}", first, second, fresh[key]))
    for _, line in lines:
        print(line)
    return 0 if all(ok for ok, _ in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
