"""Import rules, read from the source with ``ast`` (nothing is imported): the report and the
figures read files only (nothing of ``csvae.evaluate``, however indirectly), and no two modules of
csvae import each other, however indirectly. Imports inside functions count."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
FILE_READERS = ("csvae.report", "csvae.figures", "csvae.results")
"""Stages that draw and write from a run's files alone (the results page too)."""


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of csvae (a package by its __init__.py)."""
    out = {}
    for path in sorted((SRC / "csvae").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The csvae modules a module's code imports anywhere. ``from package import submodule``
    imports the submodule; the packages above an imported module are not counted (their
    __init__ runs first, but they do not import the module back)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            out.update(submodules)
            if len(submodules) < len(node.names):
                out.add(node.module)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the csvae modules it imports."""
    modules = module_files()
    return {name: imported(ast.parse(path.read_text(encoding="utf-8")), modules) for name, path in modules.items()}


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module ``start`` imports, however indirectly -> the module that imports it."""
    seen, todo = {}, [start]
    while todo:
        here = todo.pop()
        for name in graph[here]:
            if name not in seen:
                seen[name] = here
                todo.append(name)
    return seen


def chain(via: dict[str, str], start: str, end: str) -> str:
    """"a -> b -> c": how ``start`` reaches ``end`` (``end`` in ``reachable(graph, start)``; a
    circle when ``end`` is ``start``)."""
    path = [end, via[end]]
    while path[-1] != start:
        path.append(via[path[-1]])
    return " -> ".join(reversed(path))


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_graph_sees_imports(graph):
    """The parser finds known imports (else the rules below would pass on an empty graph)."""
    assert "csvae.rundir" in graph["csvae.figures"]
    assert "csvae.data.celeba" in graph["csvae.data.images"]  # from csvae.data import celeba
    assert "csvae.evaluate.judge.storage" in graph["csvae.evaluate.judge.training"]


@pytest.mark.parametrize("reader", [name for name in import_graph() if name.startswith(FILE_READERS)])
def test_report_and_figures_read_files_only(graph, reader):
    via = reachable(graph, reader)
    evaluation = sorted(name for name in via if name == "csvae.evaluate" or name.startswith("csvae.evaluate."))
    assert not evaluation, f"{reader} imports the evaluation: {chain(via, reader, evaluation[0])}"


def test_no_import_circle(graph):
    circles = [chain(via, name, name) for name in sorted(graph) if name in (via := reachable(graph, name))]
    assert not circles, "import circles:\n" + "\n".join(circles)
