"""The layering of `cascade/`, checked on the source: no import cycle between modules,
and no package importing a layer above it (docs/architecture.md draws the layers)."""

from __future__ import annotations

import ast
from pathlib import Path

import cascade

ROOT = Path(cascade.__file__).parent

# package -> the cascade packages it must never import (those above it)
NEVER = {
    "pods": {"api", "services", "jobs", "app", "cmd", "policy"},
    "jobs": {"api", "services", "app", "cmd"},
    "db": {"api", "services", "jobs", "pods", "app", "cmd"},
    "services": {"api", "app", "cmd"},
    "identity": {"api", "services", "jobs", "pods", "app", "cmd"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The cascade modules `name` imports, at its top or inside functions."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in known:
                    found.add(full)
                elif base in known:
                    found.add(base)
    return found - {name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back() -> None:
    edges = graph()
    assert len(edges) > 100  # the whole package was read
    assert cycles(edges) == []


def test_no_package_imports_a_layer_above_it() -> None:
    upward = []
    for name, targets in graph().items():
        layer = name.split(".")[1] if "." in name else ""
        for target in targets:
            above = target.split(".")[1] if "." in target else ""
            if above in NEVER.get(layer, set()):
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_api_package_imports_another() -> None:
    apis = {"compute", "volume", "network", "admin"}
    crossing = []
    for name, targets in graph().items():
        parts = name.split(".")
        if len(parts) < 3 or parts[1] != "api" or parts[2] not in apis:
            continue
        for target in targets:
            other = target.split(".")
            if len(other) > 2 and other[1] == "api" and other[2] in apis - {parts[2]}:
                crossing.append(f"{name} -> {target}")
    assert crossing == []
