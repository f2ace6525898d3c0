"""Plugins and study files: modules that register components, imported in this process and in
every worker, and tied to the runs that use them.

Loaded in this order: the entry-point group `scratchbench.plugins` (each entry point's module),
$SCRATCHBENCH_PLUGINS (comma- or os.pathsep-separated), each `--plugin`, then each `--study`. A
plugin or study is an importable module name or the path of a .py file; a file is run as the
module `scratchbench_plugin_<stem>` and its text is shipped to the workers, so they need no copy
of it. A module is imported by name on the workers and must hash the same there. Workers load
only the plugins and studies that register a component or a setting: a study of grids alone
(this project's studies/) never needs to reach them.

Identity (what retrains; ablations/grid/loaded.py): a run that names a component a plugin
registered (its optimizer, activation, dataset, ... : COMPONENT_SETTINGS) or sets a SCHEMA setting
the plugin added away from its default carries `config["plugins"] = {plugin name: code hash}`,
which enters its run id; a run that uses no plugin has no such key, so its id is what it always
was. The code hash is the SHA-256 of the file (of a package's .py files), for a study file less its
top-level `GRIDS = ...`, `REPLACES`, `REPORTS` and `DEFAULT_GRIDS` statements: editing a study's
grids trains only the new runs, any other edit of a plugin or study retrains every run that uses
one of its components, and an unchanged one trains nothing. The code hash also covers the user's
modules the plugin rests on (outside the installed packages: those loaded at its import and those
any of its import statements names, a function's too, transitively: ablations/user_code.py), which
each worker checks; a study's helper that holds only grid values read only by its grid statements
is left out with them (`grid_values_only`). Each record's environment lists every plugin the
workers load, with the SHA-256 of its file.

Refused at load, one line each (PluginError, exit 2): a plugin that changes a built-in
(grid/builtins.py), a component that cannot be trusted to name its runs (`component_problem`), a
setting it adds whose default is not off or that takes a component's argument (`setting_problem`),
a study without GRIDS or that exits at import (it is imported with sys.argv = [its path]).

Workers: `load_in_worker(plugins)` imports them once per process (loky's initializer, or lazily in
a Dask worker's first task) and keeps a failure; `probe` reports a worker's state up front and
`run_checked` refuses (PluginError, exit 2) a run whose components a worker lacks, so a record
never depends on the number or kind of workers.
"""

import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import inspect
import io
import os
import re
import socket
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from ablations.train.trainers import Trainer
from nn_core import REGULARIZERS
from nn_core.settings import OFF_WORDS, is_off

from .grid import builtins
from .grid.config import COMPONENT_ARGUMENTS, SCHEMA, GridError
from .grid.loaded import COMPONENT_SETTINGS, LOADED, REGISTRIES, STAMPS, Plugin, data_problem
from .user_code import (
    FILE_MODULE_PREFIX,
    STUDY_NAMES,
    grid_values_only,
    helper_modules,
    module_path,
    sha256_hex,
    study_code_sha256,
    with_helpers,
)

ENTRY_POINT_GROUP = "scratchbench.plugins"
PLUGINS_ENV = "SCRATCHBENCH_PLUGINS"


class PluginError(GridError):
    """A plugin or study cannot be loaded here or on a worker; one line naming it."""


_WORKER_FAILURE = []  # a worker's load failure (one line), kept for `run_checked`


def module_files(module):
    """The file of a module, or every .py file under a package's folder, sorted."""
    path = Path(module.__file__)
    if path.name != "__init__.py":
        return path, [path]
    return path.parent, sorted(path.parent.rglob("*.py"))


def files_sha256(root, files):
    """SHA-256 of a module's file; of a package's files, each after its path in the package."""
    if files == [root]:
        return sha256_hex(root.read_bytes())
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(root)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def snapshot():
    return (
        {(r.kind, name): id(entry) for r in REGISTRIES for name, entry in r.items()},
        set(SCHEMA),
    )


class SourceBytes(importlib.abc.SourceLoader):
    """Imports a module from a file's bytes, as read where it was loaded first."""

    def __init__(self, path, source):
        self.path, self.source = str(path), source

    def get_filename(self, fullname):
        return self.path

    def get_data(self, path):
        return self.source


def run_file(module_name, path, source):
    """Import the bytes `source` as module `module_name` (with `__file__` = `path`)."""
    spec = importlib.util.spec_from_loader(module_name, SourceBytes(path, source))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def file_module_name(path):
    return FILE_MODULE_PREFIX + re.sub(r"\W", "_", Path(path).stem)


@contextlib.contextmanager
def importing(path):
    """Import a plugin as every process does: with sys.argv = [its path] (the harness's own
    arguments are not its to parse, and a worker's differ) and its output held back (`yield`s
    the StringIO); written out after a clean import."""
    argv, held = sys.argv, io.StringIO()
    sys.argv = [str(path)]
    try:
        with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
            yield held
    finally:
        sys.argv = argv
    sys.stderr.write(held.getvalue())


_BUILTINS = []  # (snapshot, its roots) of the built-ins, taken before the first plugin loads


def builtin_change():
    """The first built-in a loaded plugin changed (builtins.changed), or None."""
    if not _BUILTINS:
        _BUILTINS.append((builtins.snapshot(), [path for path, _ in builtins.roots()]))
        return None
    return builtins.changed(*_BUILTINS[0])


def load(spec, kind="plugin", origin="--plugin"):
    """Import the plugin `spec` (a module name, or a .py file's path) in this process; return
    (its Plugin, its module). PluginError (one line, naming `origin` and `spec`) if it fails,
    changes a built-in or registers a component that breaks a rule (component_problem)."""
    is_file = spec.endswith(".py") or os.sep in spec
    path = Path(spec).expanduser().resolve()
    if is_file:
        if path.is_dir():
            raise PluginError(
                f"{origin} {spec}: is a folder; give a .py file, or the module "
                f"name of a package (a folder with an __init__.py) on the path"
            )
        try:
            data = path.read_bytes()
        except OSError as err:
            raise PluginError(f"{origin} {spec}: cannot read it ({err.strerror})") from None
        if path.name in LOADED:
            if LOADED[path.name].path != str(path):
                raise PluginError(
                    f"{origin} {spec}: another {path.name} is loaded already "
                    f"({LOADED[path.name].path}); rename one of them"
                )
            return LOADED[path.name], sys.modules[LOADED[path.name].module]
    elif spec in LOADED:
        return LOADED[spec], sys.modules[LOADED[spec].module]
    builtin_change()  # the built-ins' snapshot, before the first plugin
    before, settings_before = snapshot()
    modules_before = set(sys.modules)
    try:
        with importing(path if is_file else spec) as held:
            try:
                module = (
                    run_file(file_module_name(path), path, data)
                    if is_file
                    else importlib.import_module(spec)
                )
            except SystemExit as exit_:
                said = held.getvalue().strip().splitlines()
                raise PluginError(
                    f"{origin} {spec}: it calls sys.exit({exit_.code!r}) while it "
                    f"is imported"
                    + (f" (it printed: {said[-1].strip()})" if said else "")
                    + "; a plugin or study must not "
                    "exit or parse the command line at import"
                ) from None
        if is_file:
            name, source, sha = path.name, data, sha256_hex(data)
            text = importlib.util.decode_source(data)
            code = study_code_sha256(text) if kind == "study" else sha
            own_files = {path}
        else:
            if getattr(module, "__file__", None) is None:
                raise PluginError(
                    f"{origin} {spec}: is a folder without __init__.py (a "
                    f"namespace package); add {spec}/__init__.py that imports "
                    f"its modules, or give a .py file"
                )
            name, source = spec, None
            path, files = module_files(module)
            sha = code = files_sha256(path, files)
            own_files = set(files)
    except PluginError:
        raise
    except Exception as err:  # noqa: BLE001 - whatever a plugin raises is reported in one line
        hint = ""
        if isinstance(err, ModuleNotFoundError) and Path(f"{spec}.py").is_file():
            hint = f" (for the file here, give its path: {origin} ./{spec}.py)"
        raise PluginError(
            f"{origin} {spec}: importing it raised {type(err).__name__}: {one_line(err)}{hint}"
        ) from None
    touched = builtin_change()
    if touched:
        raise PluginError(
            f"{origin} {spec}: it changes the built-in {touched}; a plugin may "
            f"add components, never change a built-in one (register yours "
            f"under a new name)"
        )
    after, settings_after = snapshot()
    registers = tuple(sorted(key for key, entry in after.items() if before.get(key) != entry))
    for kind_name in registers:
        problem = component_problem(*kind_name, registry_of(kind_name[0])[kind_name[1]])
        if problem:
            raise PluginError(f"{origin} {spec}: {problem}")
    for key in sorted(settings_after - settings_before):
        problem = setting_problem(key, SCHEMA[key])
        if problem:
            raise PluginError(f"{origin} {spec}: {problem}")
    helpers = helper_modules(module, set(sys.modules) - modules_before, own_files)
    if is_file and kind == "study":
        grid_only = grid_values_only(text, helpers)
        helpers = tuple(helper for helper in helpers if helper[0] not in grid_only)
    plugin = Plugin(
        name,
        kind,
        module.__name__,
        str(path),
        sha,
        with_helpers(code, helpers),
        source,
        registers,
        tuple(sorted(settings_after - settings_before)),
        helpers,
    )
    LOADED[name] = plugin
    return plugin, module


MUTABLE = (list, dict, set, bytearray)
# The kinds whose constructor arguments a grid sets by name (grid/config.py's COMPONENT_ARGUMENTS,
# and the loss, made with none): each needs a default.
SET_BY_NAME = ("optimizer", "activation", "schedule", "loss")


def component_problem(kind, name, entry):
    """Why the component `entry` a plugin registered as `kind` `name` cannot be trusted to name
    its runs (one line), or None: a mutable default argument (shared by every run in a worker),
    an argument a grid sets with no default, a regularizer that is on in a run that does not
    name it, a trainer whose `honours` leaves out `trainer`."""
    function = entry.train if isinstance(entry, Trainer) else entry
    try:
        parameters = (
            inspect.signature(function).parameters
            if isinstance(function, (type, types.FunctionType))
            else {}
        )
    except (TypeError, ValueError):
        parameters = {}
    for key, p in parameters.items():
        if isinstance(p.default, MUTABLE):
            return (
                f"{kind} {name!r}: the argument {key!r} defaults to a {type(p.default).__name__}"
                f" ({p.default!r}), one object shared by every run in a worker; default to "
                f"None or a tuple and make a new one inside"
            )
        if (
            kind in SET_BY_NAME
            and key not in SCHEMA
            and p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ):
            return (
                f"{kind} {name!r}: the argument {key!r} has no default; give it one (a grid "
                f"sets it by name, and a run that does not gets the default)"
            )
    if kind == REGULARIZERS.kind:
        defaults = {key: setting.default for key, setting in SCHEMA.items()}
        on = [
            f"{key}={setting.default!r}"
            for key, setting in entry.settings.items()
            if not is_off(setting.default)
        ]
        try:
            switched_on = entry.is_on(defaults)
        except Exception as err:  # noqa: BLE001 - a plugin's code, reported in one line
            return f"regularizer {name!r}: is_on(the default settings) raised {type(err).__name__}"
        if on or switched_on:
            return (
                f"regularizer {name!r} is on in a run that does not name it"
                + (f" (its setting {on[0]} is not off)" if on else "")
                + f"; every setting must default to off ({OFF_WORDS}), so that the "
                "baseline 'none' stays the baseline"
            )
    if isinstance(entry, Trainer) and entry.honours is not None and "trainer" not in entry.honours:
        return (
            f"trainer {name!r}: honours= must include 'trainer' (the setting that chooses it), "
            f"beside every other setting it implements"
        )
    return None


def setting_problem(key, setting):
    """Why the SCHEMA setting `key` a plugin added would change a run that does not name it (one
    line), or None: its default is not off (nn_core.settings.is_off), or it is named like an
    argument of a registered optimizer, activation or schedule (a SCHEMA setting is not passed
    as a component argument, so that component would lose it: `momentum=0.5` would train with
    its constructor default under a new id)."""
    if not is_off(setting.default):
        return (
            f"the setting {key!r} defaults to {setting.default!r}, which is not off; a setting "
            f"a plugin adds must default to off ({OFF_WORDS}), so that a run that does not set "
            f"it stays the run it was"
        )
    owners = [
        f"{kind} {name!r}"
        for kind, arguments in COMPONENT_ARGUMENTS.items()
        for name, entry in arguments.registry.items()
        if key in inspect.signature(entry).parameters
    ]
    if owners:
        return (
            f"the setting {key!r} is an argument of {', '.join(owners)}, which would no longer "
            f"get it from a grid; name the setting otherwise"
        )
    return None


def one_line(err):
    return " ".join(str(err).split()) or "(no message)"


def specs_from_environment(environ=None):
    """(origin, module) of every entry point of ENTRY_POINT_GROUP, then (origin, spec) of
    $SCRATCHBENCH_PLUGINS, comma- or os.pathsep-separated."""
    found = [
        (f"entry point {ep.name!r}", ep.module)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    ]
    listed = (os.environ if environ is None else environ).get(PLUGINS_ENV, "")
    found += [
        (f"${PLUGINS_ENV}", part.strip())
        for part in re.split(f"[,{re.escape(os.pathsep)}]", listed)
        if part.strip()
    ]
    return found


@dataclass(frozen=True)
class Study:
    """What a study declares: its grids, the built-in grids it replaces, what each grid's
    report needs ({grid: declaration}, analysis/report/needs.py) and the grids run when no
    --grid is given (empty: all of its grids)."""

    grids: dict
    replaces: set
    reports: dict
    default_grids: list


def load_study(spec):
    """Load a study (a .py file, or an importable module); return its Study. PluginError for a
    study without GRIDS or with a malformed GRIDS, REPLACES, REPORTS or DEFAULT_GRIDS."""
    _, module = load(str(spec), kind="study", origin="--study")
    where = f"--study {spec}"
    if not hasattr(module, "GRIDS"):
        close = [n for n in vars(module) if n.isupper() and n not in STUDY_NAMES]
        raise PluginError(
            f"{where}: defines no GRIDS (a dict mapping grid names to blocks)"
            + (f"; it defines {', '.join(sorted(close))}" if close else "")
        )
    grids = module.GRIDS
    replaces = getattr(module, "REPLACES", set())
    reports = getattr(module, "REPORTS", {})
    defaults = getattr(module, "DEFAULT_GRIDS", [])
    if not isinstance(grids, dict) or not all(isinstance(k, str) for k in grids):
        raise PluginError(f"{where}: GRIDS must be a dict mapping grid names to blocks")
    if not is_names(replaces, (set, frozenset, list, tuple)):
        raise PluginError(f"{where}: REPLACES must be a set of grid names, got {replaces!r}")
    if not isinstance(reports, dict) or not set(reports) <= set(grids):
        raise PluginError(f"{where}: REPORTS must map grids it defines to declarations")
    if not is_names(defaults, (list, tuple)) or not set(defaults) <= set(grids):
        raise PluginError(
            f"{where}: DEFAULT_GRIDS must be a list of grids it defines "
            f"({', '.join(grids) or 'none'}), got {defaults!r}"
        )
    return Study(grids, set(replaces), reports, list(defaults))


def is_names(value, containers):
    return isinstance(value, containers) and all(isinstance(k, str) for k in value)


def defined_in_main():
    """'optimizer 'x'' for each registry entry (a class or function) defined in __main__, which
    worker processes do not import."""
    return [
        f"{r.kind} {name!r}"
        for r in REGISTRIES
        for name, entry in r.items()
        if getattr(entry, "__module__", None) == "__main__"
    ]


def load_in_worker(plugins):
    """Load `plugins` into this worker once; keep the first failure for `run_checked`."""
    if _WORKER_FAILURE:
        return
    for plugin in plugins:
        if plugin.name in LOADED:
            continue
        try:
            with importing(plugin.path):
                if plugin.source is not None:
                    run_file(plugin.module, plugin.path, plugin.source)
                else:
                    module = importlib.import_module(plugin.module)
                    root, files = module_files(module)
                    if files_sha256(root, files) != plugin.sha256:
                        raise PluginError(
                            f"its files at {root} differ from the client's "
                            f"(sha256 {plugin.sha256[:12]}...)"
                        )
            for helper, file, sha in plugin.helpers:
                here = module_path(helper)
                if here is None or sha256_hex(Path(here).read_bytes()) != sha:
                    raise PluginError(
                        f"its helper module {helper} ({here or 'not found'}) "
                        f"differs from the client's {file}"
                    )
        except (Exception, SystemExit) as err:  # noqa: BLE001 - reported by probe / run_checked
            _WORKER_FAILURE.append(
                f"{plugin.kind} {plugin.name}: {type(err).__name__}: {one_line(err)}"
            )
            return
        LOADED[plugin.name] = plugin


def worker_name():
    return f"{socket.gethostname()} pid {os.getpid()}"


def probe(plugins, components=(), settings=()):
    """On a worker: load `plugins`, then one line on the first thing it cannot do: a plugin it
    cannot load, or one of `components` ((registry kind, name) pairs) or `settings` it lacks.
    None if it has them all."""
    load_in_worker(plugins)
    if _WORKER_FAILURE:
        return f"worker {worker_name()} cannot load {_WORKER_FAILURE[0]}"
    missing = [
        f"{kind} {name!r}" for kind, name in sorted(components) if name not in registry_of(kind)
    ]
    missing += [f"setting {key!r}" for key in sorted(settings) if key not in SCHEMA]
    if missing:
        return (
            f"worker {worker_name()} has no {missing[0]}: load the module that registers it "
            f"with --plugin MODULE or --study FILE, so that every worker imports it"
        )
    return None


def registry_of(kind):
    return next(r for r in REGISTRIES if r.kind == kind)


def needs(configs):
    """(components, settings) that runs of `configs` need a worker to have: (registry kind,
    name) of each component they name, and the settings they hold besides `plugins`."""
    components = {
        (r.kind, config[key])
        for config in configs
        for key, r in COMPONENT_SETTINGS.items()
        if config.get(key) is not None
    }
    return components, {key for config in configs for key in config if key not in STAMPS}


def run_checked(plugins, execute, run, data_dir):
    """`execute(run, data_dir)` on a worker that has loaded `plugins` and every component of the
    run; else PluginError (the parent stops with exit 2: no record depends on the worker)."""
    problem = probe(plugins, *needs([run.config])) or data_problem(run.config)
    if problem:
        raise PluginError(problem)
    return execute(run, data_dir)
