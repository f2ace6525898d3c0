"""The built-in components as this process holds them: every registry entry and SCHEMA setting,
and the code behind each (its class's methods, their defaults and closures, the functions and
classes of nn_core and ablations those name), so that a plugin that changes one is caught.

`snapshot()` is taken before the first plugin loads; `changed(before, walked)` names the first thing
that differs afterwards (a patched `SGD.update`, an overwritten `INITIALIZERS["he_uniform"]`).
A plugin may add components; one that changes a built-in is refused (ablations/plugins.py): the
runs of built-in grids would change under unchanged run ids.
"""

import types
from dataclasses import fields, is_dataclass

from .config import SCHEMA
from .loaded import REGISTRIES

HARNESS = ("nn_core", "ablations")  # the packages whose code a walk follows
SKIPPED = {
    "__dict__",
    "__weakref__",
    "__doc__",
    "__module__",
    "__qualname__",
    "__dataclass_fields__",
    "__dataclass_params__",
    "__match_args__",
    "__annotations__",
    "__parameters__",
    "__orig_bases__",
    "__abstractmethods__",
    "_abc_impl",
}
LEAVES = (type(None), bool, int, float, complex, str, bytes)


def ours(obj):
    return (getattr(obj, "__module__", None) or "").split(".")[0] in HARNESS


def walk(obj, path, seen, out):
    """Record in `out` {path: object} every object `obj`'s behaviour depends on (compared by
    identity later: the objects are kept alive, so an id is never reused); `seen` holds ids
    walked already, so a shared helper is recorded once, under its first path."""
    if isinstance(obj, LEAVES):
        out[path] = obj
        return
    if id(obj) in seen:
        return
    seen.add(id(obj))
    out[path] = obj
    if isinstance(obj, (staticmethod, classmethod)):
        walk(obj.__func__, path, seen, out)
    elif isinstance(obj, property):
        for part in ("fget", "fset", "fdel"):
            walk(getattr(obj, part), f"{path}.{part}", seen, out)
    elif isinstance(obj, types.FunctionType):
        walk_function(obj, path, seen, out)
    elif isinstance(obj, type):
        if ours(obj):
            for cls in obj.__mro__:
                if cls is not object and ours(cls):
                    for key, value in vars(cls).items():
                        if key not in SKIPPED:
                            walk(value, f"{path}.{cls.__name__}.{key}", seen, out)
    elif isinstance(obj, (list, tuple, frozenset, set)):
        for i, item in enumerate(
            sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        ):
            walk(item, f"{path}[{i}]", seen, out)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            walk(value, f"{path}[{key!r}]", seen, out)
    elif is_dataclass(obj):
        walk(type(obj), f"{path}.<class>", seen, out)
        for field in fields(obj):
            walk(getattr(obj, field.name), f"{path}.{field.name}", seen, out)


def walk_function(func, path, seen, out):
    """A function: its code object, defaults, closure cells, and the functions and classes of
    the harness that its code names as globals (under "<root> (through <module>.<name>)")."""
    out[f"{path}.__code__"] = func.__code__
    walk(func.__defaults__, f"{path}.__defaults__", seen, out)
    walk(func.__kwdefaults__, f"{path}.__kwdefaults__", seen, out)
    for i, cell in enumerate(func.__closure__ or ()):
        try:
            walk(cell.cell_contents, f"{path}.<closure {i}>", seen, out)
        except ValueError:  # an empty cell
            pass
    for name in sorted(global_names(func.__code__)):
        value = func.__globals__.get(name)
        if isinstance(value, (types.FunctionType, type)) and ours(value):
            walk(
                value,
                f"{path.split(' (through ')[0]} (through {value.__module__}.{name})",
                seen,
                out,
            )


def global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return names


def roots():
    """(path, object) of every registry entry and SCHEMA setting held now."""
    return [
        *(
            (f"{registry.kind} {name!r}", entry)
            for registry in REGISTRIES
            for name, entry in registry.items()
        ),
        *((f"setting {key!r}", setting) for key, setting in SCHEMA.items()),
    ]


def snapshot(walked=None):
    """{path: object} of every registry entry and SCHEMA setting held now and their code (of
    those at the `walked` paths only, in that order, where given; a missing one is None)."""
    held = dict(roots())
    out, seen = {}, set()
    for path in walked if walked is not None else held:
        walk(held.get(path), path, seen, out)
    return out


def changed(before, walked):
    """The first path of the snapshot `before` (of the roots `walked`) whose object is no
    longer there or not the same, or None."""
    now = snapshot(walked)
    for path, obj in before.items():
        if path not in now or (
            now[path] is not obj
            and not (isinstance(obj, LEAVES) and type(now[path]) is type(obj) and now[path] == obj)
        ):
            return path
    return None
