"""The package's static import graph (every import statement, at any depth) has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nri


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports; ``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module, else ``pkg``. Imports inside functions count too, so a
    lazy import cannot hide a cycle; those under ``if TYPE_CHECKING:`` (annotations only, never
    run) do not."""
    modules = {module_name(root, p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for block in ast.walk(tree):
            if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                block.body = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_nri_has_no_import_cycle():
    root = Path(nri.__file__).parent
    graph = import_graph(root)
    assert "nri.data.datamodule" in graph and graph["nri.data.datamodule"]  # the graph is not empty
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_error_modules_import_nothing_of_the_package():
    graph = import_graph(Path(nri.__file__).parent)
    assert graph["nri.data.errors"] == set() and graph["nri.errors"] == set()
    assert graph["nri.cli"] == {"nri.data.errors", "nri.errors", "nri.run_dir"}


@pytest.mark.parametrize("lazy", [False, True])
def test_a_cycle_is_found(tmp_path, lazy):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    inner = "def f():\n    from .. import a\n" if lazy else "from pkg import a\n"
    (pkg / "sub" / "b.py").write_text("import os\n" + inner)
    cycle = find_cycle(import_graph(pkg))
    assert cycle is not None and set(cycle) == {"pkg.a", "pkg.sub.b"}


def test_no_cycle_in_a_chain(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("from .c import thing\n")
    (pkg / "c.py").write_text("thing = 1\n")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.c"}
    assert find_cycle(graph) is None


def test_annotation_only_imports_are_no_cycle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    assert find_cycle(import_graph(pkg)) is None
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif not TYPE_CHECKING:\n    from pkg import a\n")
    assert find_cycle(import_graph(pkg)) is not None
