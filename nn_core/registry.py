"""Name -> component registries with exact-key lookup.

Every component kind (activation, loss, initializer, optimizer, regularizer, schedule) owns one
`Registry`. Adding an entry is one `@REGISTRY.register("name")` line beside its definition; an
unknown name fails with one line that suggests the closest match and lists the valid names.
"""

import difflib


class UnknownNameError(KeyError, ValueError):
    """Raised for a name that is not in a registry; `str()` is a one-line message."""

    def __str__(self):
        return self.args[0]


class Registry(dict):
    """A dict from name to component, with a decorator to add entries and helpful lookup errors.

    Parameters
    ----------
    kind : str
        What the entries are ("optimizer", "activation", ...), used in error messages.
    """

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.watchers = []

    def register(self, name):
        """Decorator: add the decorated class or function under `name` (which must be new)."""

        def add(entry):
            if name in self:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            for watcher in self.watchers:
                watcher(name, entry)
            self[name] = entry
            return entry

        return add

    def watch(self, watcher):
        """Call `watcher(name, entry)` at every later `register`, before the entry is added
        (raising refuses it): how tables derived from a registry follow a plugin's entries."""
        self.watchers.append(watcher)

    def __missing__(self, name):
        raise UnknownNameError(unknown_name_message(self.kind, name, self))

    def create(self, name, **kwargs):
        """Look up `name` and call it with `kwargs` (a class gives an instance)."""
        return self[name](**kwargs)


def unknown_name_message(kind, name, valid):
    """One line: "unknown optimizer 'adamm'; did you mean 'adam'? known: adam, sgd"."""
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    return f"unknown {kind} {name!r}{hint} known: {', '.join(valid)}"
