"""The house's shape: ablations/'s import graph has no circle, imports run down the rooms
(ablations/__init__.py), the analysis never imports the run room, and no module of the library
names a grid of this project's study."""

import ast
import graphlib
from pathlib import Path

import pytest

import studies
from ablations.grid import examples

PACKAGE = Path(__file__).resolve().parents[1] / "ablations"
# Each room's rank: a module imports only modules of its own room or of lower ranks. run,
# analysis and export share a rank, so none of them may import another; waves, which trains
# and then reads the records back, sits above them and below cli.
RANKS = {
    "ablations": 0,
    "files": 0,
    "user_code": 0,
    "data": 1,
    "records": 2,
    "train": 3,
    "grid": 4,
    "plugins": 5,
    "run": 6,
    "analysis": 6,
    "export": 6,
    "waves": 7,  # the sequential wave runner: trains (run), then looks (analysis)
    "cli": 8,
}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ablations"


def imported(module, path):
    """The ablations modules `module` imports, anywhere in its file (lazy imports too)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES} - {module}


GRAPH = {module: imported(module, path) for module, path in MODULES.items()}


def test_every_room_is_ranked():
    assert {room(m) for m in MODULES} == set(RANKS)


def test_the_import_graph_has_no_circle():
    graphlib.TopologicalSorter(GRAPH).prepare()  # CycleError names the circle


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_rooms(module):
    upward = sorted(
        other
        for other in GRAPH[module]
        if room(other) != room(module)
        and RANKS[room(other)] >= RANKS[room(module)]
        and room(other) != "ablations"
    )
    assert not upward, f"{module} imports {upward}"


def test_the_analysis_reads_records_never_the_runner():
    analysis = {m: deps for m, deps in GRAPH.items() if room(m) == "analysis"}
    assert analysis and not {d for deps in analysis.values() for d in deps if room(d) == "run"}


def test_the_checker_sees_an_upward_import():
    """The graph is read from the source: a room that imported another of its rank would show."""
    assert "ablations.records.store" in GRAPH["ablations.analysis.report.frame"]
    assert "ablations.run.runner" in GRAPH["ablations.cli"]


def registry_kinds(tree):
    """The constants that name a registry's kind (`Registry("normalization")`), not a grid."""
    return {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Registry"
        for arg in node.args
    }


def test_no_module_of_the_library_names_a_grid_of_the_study():
    study_grids = set(studies.GRIDS) - set(examples.GRIDS)
    named = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        kinds = registry_kinds(tree)
        named += [
            (module, node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and node.value in study_grids
            and id(node) not in kinds
        ]
    assert not named
