"""The plugins loaded in this process, and what a run's identity takes from them: a config that
uses a plugin's component (COMPONENT_SETTINGS names one) or sets a setting it added carries
`config["plugins"] = {plugin name: code hash}` (`stamp`), which enters its run id; a run on a
user dataset carries its content hash (`data_sha256`) the same way. Filled by
ablations/plugins.py, which loads them; read by the expansion (`stamp`), the runner (`current`,
`environment`) and the workers.
"""

from dataclasses import dataclass

from nn_core import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, REGULARIZERS, SCHEDULES

from ablations.data.datasets import DATASETS, NORMALIZATIONS
from ablations.data.user_datasets import ArrayDataset
from ablations.train.trainers import TRAINERS
from .config import SCHEMA

# The settings whose value names a registry entry (tests/test_plugins.py checks it against SCHEMA).
COMPONENT_SETTINGS = {
    "trainer": TRAINERS,
    "dataset": DATASETS,
    "activation": ACTIVATIONS,
    "loss": LOSSES,
    "init": INITIALIZERS,
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "normalize": NORMALIZATIONS,
}
# Every registry a plugin may add to: those, and the regularizers (switched on by settings).
REGISTRIES = (*COMPONENT_SETTINGS.values(), REGULARIZERS)


@dataclass(frozen=True)
class Plugin:
    name: str  # a module's name, or a file's name ("my_study.py")
    kind: str  # "plugin" or "study"
    module: str  # the module it is imported as
    path: str  # its file (a package: its folder)
    sha256: str  # of the file (a package: of its .py files)
    code_sha256: str  # what enters run ids (see the module docstring)
    source: bytes = None  # a file's bytes, run on the workers; None: they import `module`
    registers: tuple = ()  # ((registry kind, name), ...) it added or replaced
    settings: tuple = ()  # SCHEMA settings it added
    helpers: tuple = ()  # ((module, file, sha256), ...): the user's modules it rests on


LOADED = {}  # name -> Plugin, in load order: this process's plugins


def current():
    """The plugins the workers load, in load order (picklable): those that register a
    component or a setting."""
    return tuple(p for p in LOADED.values() if p.registers or p.settings)


DATA_KEY = "data_sha256"  # a user dataset's content hash in a config (not a setting)
STAMPS = ("plugins", DATA_KEY)  # the keys `stamp` adds


def stamp(config):
    """`config` with `plugins` = {name: code hash} of the loaded plugins it uses, and on a user
    dataset (user_datasets.ArrayDataset) `data_sha256` = its content hash; unchanged, without
    either key, if it uses neither."""
    named = {(registry.kind, config.get(key)) for key, registry in COMPONENT_SETTINGS.items()}
    used = {p.name: p.code_sha256 for p in current() if uses(config, p, named)}
    dataset = DATASETS[config["dataset"]]
    data = {DATA_KEY: dataset.content_sha256} if isinstance(dataset, ArrayDataset) else {}
    return {**config, **({"plugins": used} if used else {}), **data}


def data_problem(config):
    """One line if the dataset this process holds is not the one `config`'s id names (a user
    dataset whose file changed since the client stamped it), else None."""
    if DATA_KEY not in config or config["dataset"] not in DATASETS:
        return None
    held = DATASETS[config["dataset"]]
    if isinstance(held, ArrayDataset) and held.content_sha256 == config[DATA_KEY]:
        return None
    return (
        f"dataset {config['dataset']!r} here is not the one the client planned with "
        f"(sha256 {config[DATA_KEY][:12]}...): its file differs"
    )


def uses(config, plugin, named):
    """Whether `config` (naming the components `named`: {(registry kind, name)}) uses one of
    `plugin`'s components or sets one of its settings away from its default."""
    return bool(named & set(plugin.registers)) or any(
        key in config and config[key] != SCHEMA[key].default for key in plugin.settings
    )


def environment():
    """{"plugins": [...]} for the records' environment: the plugins the workers load (current),
    or {} when there is none."""
    shipped = current()
    if not shipped:
        return {}
    return {
        "plugins": [
            {
                "name": p.name,
                "kind": p.kind,
                "path": p.path,
                "sha256": p.sha256,
                "code_sha256": p.code_sha256,
                "registers": [f"{kind} {name}" for kind, name in p.registers],
                "settings": list(p.settings),
            }
            for p in shipped
        ]
    }
