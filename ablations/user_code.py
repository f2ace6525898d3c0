"""The user's code a plugin or study rests on, and which of it enters the plugin's code hash.

A module is the user's when its file lies outside the installed packages (INSTALLED) and the
harness (`user_path`). `helper_modules` finds them two ways: dynamically, the modules a plugin's
import loaded and those its namespace names; statically, every `import` / `from ... import`
anywhere in the plugin's files and theirs, function bodies included, and every
`importlib.import_module("m")` or `__import__("m")` with a literal name (`imported_files`:
resolved by `spec_of`, which never runs a module, transitively), so a module imported only at run
time is hashed as well; a module name computed at run time cannot be read from the source. A
study's code hash leaves out its grid statements (`study_code_sha256`), and a helper holding only
grid values (`grid_values_only`) is left out with them.
"""

import ast
import hashlib
import importlib.machinery
import importlib.util
import os
import site
import sys
import sysconfig
import types
from pathlib import Path

FILE_MODULE_PREFIX = "scratchbench_plugin_"  # a plugin file runs as this module + its stem
STUDY_NAMES = ("GRIDS", "REPLACES", "REPORTS", "DEFAULT_GRIDS")  # left out of a study's code hash
HARNESS = ("ablations", "nn_core")  # identified by the records' git commit, not by run ids
# Where installed code lives (the interpreter's, the environment's and the user's site
# packages, and any site-packages folder a .pth file adds): a module loaded from anywhere else is
# the user's own, and its source is hashed.
INSTALLED = tuple(
    sorted(
        {
            str(Path(p).resolve())
            for p in (
                sys.prefix,
                sys.base_prefix,
                sys.exec_prefix,
                sys.base_exec_prefix,
                site.getusersitepackages(),
                *(
                    sysconfig.get_paths().get(key)
                    for key in ("stdlib", "platstdlib", "purelib", "platlib")
                ),
            )
            if p
        }
    )
)
SITE_FOLDERS = {"site-packages", "dist-packages"}


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def user_path(name, file):
    """The resolved `file` of module `name` if it is the user's own code (not installed, not the
    harness, not a plugin file), else None."""
    if not file or name.split(".")[0] in HARNESS or name.startswith(FILE_MODULE_PREFIX):
        return None
    path = Path(file).resolve()
    installed = SITE_FOLDERS & set(path.parts) or any(
        str(path).startswith(p + os.sep) for p in INSTALLED
    )
    return None if installed else str(path)


def user_file(module):
    """The file of `module` if it is the user's own code, else None."""
    if not isinstance(module, types.ModuleType):
        return None
    return user_path(module.__name__, getattr(module, "__file__", None))


def spec_of(name):
    """The ModuleSpec `import name` would use, found without running any module (a parent
    package not imported yet is looked up, not imported: importlib.util.find_spec would import
    it), or None."""
    parent = name.rpartition(".")[0]
    try:
        if not parent or parent in sys.modules:
            return importlib.util.find_spec(name)
        above = spec_of(parent)
        if above is None or not above.submodule_search_locations:
            return None
        return importlib.machinery.PathFinder.find_spec(name, above.submodule_search_locations)
    except (ImportError, ValueError, AttributeError):
        return None


def module_path(name):
    """The user's file that `import name` runs (the loaded module's, else the one `spec_of`
    finds), or None."""
    if name in sys.modules:
        return user_file(sys.modules[name])
    spec = spec_of(name)
    if spec is None or not spec.has_location or not spec.origin:
        return None
    return user_path(name, spec.origin) if Path(spec.origin).is_file() else None


def package_of(name, file):
    """The package a module's relative imports start from: itself for an __init__.py."""
    return name if Path(file).name == "__init__.py" else name.rpartition(".")[0]


def import_names(node, package):
    """The absolute names of the modules one Import / ImportFrom `node` may load: each dotted
    prefix of what it names, and for `from m import a` also `m.a` (a module when `a` is one);
    a relative import is resolved against `package` (none: skipped)."""
    if isinstance(node, ast.Import):
        bases, subs = [alias.name for alias in node.names], []
    else:
        try:
            base = (
                importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if node.level
                else node.module
            )
        except (ImportError, ValueError):
            return set()
        bases, subs = [base], [f"{base}.{a.name}" for a in node.names if a.name != "*"]
    return {prefix for name in bases for prefix in dotted_prefixes(name)} | set(subs)


def dotted_prefixes(name):
    """{'a', 'a.b', 'a.b.c'} of 'a.b.c': the modules importing it may load."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


DYNAMIC_IMPORTS = ("import_module", "__import__")  # importlib.import_module, builtins.__import__


def dynamic_import_names(node, package):
    """The absolute names of the modules a call `importlib.import_module("m")` (or
    `import_module("m")`, `__import__("m")`) with a literal name may load, its dotted prefixes
    as for an import statement; a relative name ("." + m) is resolved against `package`. A name
    computed at run time cannot be read from the source: an empty set, as for any other call."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in DYNAMIC_IMPORTS or not node.args:
        return set()
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value):
        return set()
    try:
        name = (
            importlib.util.resolve_name(first.value, package)
            if first.value[0] == "."
            else first.value
        )
    except (ImportError, ValueError):
        return set()
    return dotted_prefixes(name)


def parsed(file):
    """The AST of a .py `file`, or None (not Python source, or not parseable)."""
    if not file.endswith(".py"):
        return None
    try:
        return ast.parse(importlib.util.decode_source(Path(file).read_bytes()))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return None


def imported_by(name, file):
    """The module names every Import / ImportFrom node, and every import_module / __import__
    call with a literal name (dynamic_import_names), anywhere in module `name`'s `file` (a
    function's body too) names."""
    tree = parsed(file)
    if tree is None:
        return set()
    package = package_of(name, file)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found |= import_names(node, package)
        elif isinstance(node, ast.Call):
            found |= dynamic_import_names(node, package)
    return found


def imported_files(roots):
    """{name: file} of the user's modules that the modules `roots` ({name: file}) import
    anywhere in their source, and those import, transitively; found without importing them."""
    found, queue = {}, list(roots.items())
    while queue:
        name, file = queue.pop()
        for imported in sorted(imported_by(name, file)):
            if imported in found or imported in roots:
                continue
            path = module_path(imported)
            if path is not None:
                found[imported] = path
                queue.append((imported, path))
    return found


def loaded_modules(module, new):
    """{name: file} of the user's modules a plugin `module` rests on at import: those its import
    loaded (`new`, module names) and those its namespace names (a module, or a function's or
    class's module), followed through their own namespaces."""
    queue = [
        module,
        *(
            sys.modules[name]
            for name in sorted(new)
            if name in sys.modules and user_file(sys.modules[name])
        ),
    ]
    found, walked = {}, set()
    while queue:
        current = queue.pop()
        if current.__name__ in walked:
            continue
        walked.add(current.__name__)
        if current is not module:
            found[current.__name__] = user_file(current)
        for value in list(vars(current).values()):
            owner = getattr(value, "__module__", None)
            other = (
                value
                if isinstance(value, types.ModuleType)
                else sys.modules.get(owner)
                if isinstance(owner, str)
                else None
            )
            if other is not None and other.__name__ not in walked and user_file(other):
                queue.append(other)
    return found


def own_modules(module, own_files):
    """{name: file} of a plugin's own files: a file plugin's one, or a package's modules."""
    if not hasattr(module, "__path__"):
        return {module.__name__: str(next(iter(own_files)))}
    root = Path(module.__file__).parent
    named = {}
    for file in own_files:
        parts = Path(file).relative_to(root).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        named[".".join((module.__name__, *parts))] = str(file)
    return named


def helper_modules(module, new, own_files):
    """((name, file, SHA-256), ...) of the user's modules a plugin `module` rests on, sorted:
    those loaded at its import (`loaded_modules`) and those its files and theirs import anywhere
    (`imported_files`), less the files hashed with the plugin already (`own_files`)."""
    found = loaded_modules(module, new)
    found.update(imported_files({**own_modules(module, own_files), **found}))
    return tuple(
        sorted(
            (name, file, sha256_hex(Path(file).read_bytes()))
            for name, file in found.items()
            if Path(file) not in own_files
        )
    )


def with_helpers(code, helpers):
    """The code hash of a plugin and the helper modules it rests on (its own, without any)."""
    if not helpers:
        return code
    return sha256_hex("".join([code, *(f"\n{name} {sha}" for name, _, sha in helpers)]).encode())


def assigned(node):
    """The targets of a top-level assignment statement (`a = b = ...`, `a: T = ...`), [] for any
    other statement."""
    if isinstance(node, ast.Assign):
        return node.targets
    return [node.target] if isinstance(node, ast.AnnAssign) else []


def grid_statements(tree):
    """The top-level statements of a study's `tree` that assign STUDY_NAMES only, or None when
    they cannot be left out of its hash: the code reads one of those names, or one of them
    shares a line with other code."""
    if any(
        isinstance(node, ast.Name)
        and node.id in STUDY_NAMES
        and not isinstance(node.ctx, ast.Store)
        for node in ast.walk(tree)
    ):
        return None
    dropped = []
    for node in tree.body:
        targets = assigned(node)
        if targets and all(isinstance(t, ast.Name) and t.id in STUDY_NAMES for t in targets):
            dropped.append(node)
    lines = {i for node in dropped for i in range(node.lineno, node.end_lineno + 1)}
    kept = [node for node in tree.body if node not in dropped]
    if any(set(range(n.lineno, n.end_lineno + 1)) & lines for n in kept):
        return None
    return dropped


def study_code_sha256(source):
    """SHA-256 of `source` less its top-level statements assigning STUDY_NAMES; of all of it if
    the code reads one of those names or shares their lines with other code."""
    dropped = grid_statements(ast.parse(source))
    if dropped is None:
        return sha256_hex(source.encode())
    lines = {i for node in dropped for i in range(node.lineno - 1, node.end_lineno)}
    kept = (line for i, line in enumerate(source.splitlines(keepends=True)) if i not in lines)
    return sha256_hex("".join(kept).encode())


def holds_values_only(tree):
    """Whether every top-level statement of a module's `tree` is an import, a docstring or an
    assignment of a literal to names (ast.literal_eval-able: numbers, strings, None, booleans,
    and lists, tuples, sets and dicts of them)."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        targets = assigned(node)
        if not targets or not all(isinstance(t, ast.Name) for t in targets):
            return False
        try:
            ast.literal_eval(node.value)  # an annotation without a value (None) raises too
        except (ValueError, TypeError, SyntaxError, RecursionError):
            return False
    return True


def grid_values_only(source, helpers):
    """The names of the `helpers` ((name, file, sha), ...) of a study (its `source`) that hold
    grid values only, and so stay out of its code hash: the helper `holds_values_only`, the study
    imports it by name (no `*`), every name the study binds from it is read only inside the
    statements the study's hash leaves out (`grid_statements`), and no other helper imports it.
    Any doubt keeps a helper in the hash."""
    tree = ast.parse(source)
    dropped = grid_statements(tree)
    if not dropped:
        return set()
    in_grids = {id(n) for statement in dropped for n in ast.walk(statement)}
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    read_outside = {  # names the study reads outside its grid statements
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in in_grids
    }
    imports_of = {name: imported_by(name, file) for name, file, _ in helpers}  # each parsed once
    left_out = set()
    for name, file, _ in helpers:
        taking = [node for node in imports if name in import_names(node, None)]
        values = parsed(file)
        if not taking or values is None or not holds_values_only(values):
            continue
        if any(alias.name == "*" for node in taking for alias in node.names):
            continue
        bound = {
            alias.asname
            or (alias.name.split(".")[0] if isinstance(node, ast.Import) else alias.name)
            for node in taking
            for alias in node.names
        }
        imported_elsewhere = any(
            name in imported for other, imported in imports_of.items() if other != name
        )
        if not bound & read_outside and not imported_elsewhere:
            left_out.add(name)
    return left_out
