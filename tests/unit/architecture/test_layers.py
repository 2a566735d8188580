"""The layers of docs/architecture.md, kept true: no module imports a higher floor, no two
packages of one floor import each other, and no two modules import each other.

Imports are read from the source (``ast``), so an import inside a function or under
``TYPE_CHECKING`` counts too: a lazy import still ties the two packages together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import codex_runner

PACKAGE = Path(codex_runner.__file__).parent

# Floors, lowest first: a package may import packages of lower floors only (and itself).
FLOORS: dict[str, int] = {
    "__init__": 0,  # the package itself: its version; the library's names load lazily
    "domain": 0,
    "config": 1,
    "runner_home": 2,
    "logs": 2,
    "codex": 3,
    "store": 3,
    "workspace": 3,
    "mockmodel": 3,
    "auth": 4,
    "service": 5,
    "http": 6,
    "api": 7,
    "web": 7,
    "bridges": 7,
    "mcp_server": 7,
    "daemon": 8,
    "cli": 9,
    "__main__": 10,
}

# Imports that still run against the floors, each with the issue item that removes it.
# The list only shrinks: a new upward import fails the test.
KNOWN: frozenset[tuple[str, str]] = frozenset()


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield ".".join(rel.parts).removesuffix(".__init__"), path


def _imports(path: Path, module: str) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".")
                is_package = path.name == "__init__.py"
                base = base if is_package else base[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("codex_runner"):
                yield target
                for alias in node.names:
                    yield f"{target}.{alias.name}"
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("codex_runner"))


def _edges() -> dict[str, set[str]]:
    modules = dict(_modules())
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges[module] = {t for t in _imports(path, module) if t in modules and t != module}
    return edges


def test_every_package_has_a_floor() -> None:
    packages = {_package(m) for m, _ in _modules()}
    assert packages <= set(FLOORS), f"give these a floor: {sorted(packages - set(FLOORS))}"


def test_no_package_imports_a_higher_or_sibling_floor() -> None:
    found: set[tuple[str, str]] = set()
    for module, targets in _edges().items():
        source = _package(module)
        for target in targets:
            to = _package(target)
            if to != source and FLOORS[to] >= FLOORS[source]:
                found.add((source, to))
    new = sorted(found - KNOWN)
    assert not new, f"imports against the floors (docs/architecture.md): {new}"
    gone = sorted(KNOWN - found)
    assert not gone, f"fixed, so take them out of KNOWN: {gone}"


def test_no_two_modules_import_each_other() -> None:
    edges = _edges()
    pairs = sorted(
        {
            tuple(sorted((a, b)))
            for a, targets in edges.items()
            for b in targets
            if a in edges.get(b, set())
            # A package re-exporting from its own module is not a circle.
            and not (a.startswith(f"{b}.") or b.startswith(f"{a}."))
        }
    )
    assert not pairs, f"modules that import each other: {pairs}"
