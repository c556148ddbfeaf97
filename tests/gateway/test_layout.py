"""The rooms of ``gateway/`` and the import rules between them (ARCHITECTURE.md draws the same table).

Three checks, each failing with the import to remove:
- a room imports only the rooms below it (``ROOMS``), so no two rooms import each other;
- no module of the project takes part in an import cycle, in any package;
- the edge (the hot path, a worker process of its own one day) never loads the ClickHouse driver or a module
  that opens the warehouse: checked statically, and by importing every edge module in a fresh interpreter.

Imports under ``if TYPE_CHECKING:`` are annotations only and do not count; imports inside functions do.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "identity", "consent", "attribution", "warehouse", "dashboards", "audiences")
DOMAIN = ("identity", "consent", "attribution", "warehouse", "dashboards", "audiences")

# room -> the rooms of gateway it may import ("" is the package's own top-level modules: errors, threads).
ROOMS: dict[str, set[str]] = {
    "": set(),
    "config": {""},
    "telemetry": {""},
    "stores": {"", "config", "telemetry"},
    "state": {"", "config", "telemetry", "stores"},
    "edge": {"", "config", "telemetry", "stores", "state"},
    "ga4": {"", "config", "telemetry", "stores", "state"},
    "jobs": {"", "config", "telemetry", "stores", "state", "ga4"},
    "api": {"", "config", "telemetry", "stores", "state", "edge", "ga4", "jobs"},
    "service": {"", "config", "telemetry", "stores", "state", "edge", "ga4", "jobs", "api"},
    "cli": {"", "config", "telemetry", "stores", "state", "edge", "ga4", "jobs", "api", "service"},
    "__main__": {"cli"},  # ``python -m gateway``
}
# What opens the warehouse, or is the driver itself: never loaded by the edge.
WAREHOUSE_OPENERS = ("clickhouse_connect", "chdb", "warehouse.client", "gateway.stores.warehouse_link")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (resolved to the longest known name), annotations excluded."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            names = [source] + [f"{source}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in MODULES and "." in name:
                name = name.rpartition(".")[0]
            if name in MODULES and name != module:
                found.add(name)
            elif name.split(".")[0] in ("clickhouse_connect", "chdb"):
                found.add(name.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _room(module: str) -> str | None:
    """The room of a gateway module ("" for the package's top-level modules), None outside gateway."""
    parts = module.split(".")
    if parts[0] != "gateway":
        return None
    if parts[1:] == ["__main__"]:
        return "__main__"
    if len(parts) == 1 or (len(parts) == 2 and not (ROOT / "gateway" / parts[1]).is_dir()):
        return ""
    return parts[1]


def test_every_room_is_declared_and_says_what_it_may_import() -> None:
    rooms = {p.name for p in (ROOT / "gateway").iterdir() if (p / "__init__.py").exists()}
    assert rooms == set(ROOMS) - {"", "__main__"}, (
        "a room of gateway/ is missing from ROOMS here and in ARCHITECTURE.md"
    )
    for room in rooms:
        doc = ast.get_docstring(ast.parse((ROOT / "gateway" / room / "__init__.py").read_text()))
        assert doc, f"gateway/{room}/__init__.py must say in a docstring what the room holds"
        assert "May import" in doc, f"gateway/{room}/__init__.py must say what the room may import"


def test_rooms_import_only_the_rooms_below_them() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        room = _room(module)
        if room is None:
            continue
        for target in targets:
            other = _room(target)
            if other is not None and other != room and other not in ROOMS[room]:
                wrong.append(f"{module} ({room or 'gateway'}) imports {target} ({other or 'gateway'})")
    assert not wrong, "\n".join(sorted(wrong))


def test_domain_packages_never_import_the_gateway() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module.split(".")[0] in DOMAIN
        for target in targets
        if target.startswith("gateway")
    ]
    assert not wrong, "\n".join(wrong)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), ignoring a package's own children."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH or w.startswith(v + ".") or v.startswith(w + "."):
                continue  # a package re-exporting its children is not a cycle
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            connect(module)
    return found


def test_no_import_cycles_anywhere() -> None:
    assert _cycles() == []


def test_the_edge_never_reaches_the_warehouse_statically() -> None:
    edge = [m for m in GRAPH if _room(m) == "edge"]
    assert edge, "no edge modules found"
    for start in edge:
        seen, todo = {start}, [start]
        while todo:
            module = todo.pop()
            for target in GRAPH.get(module, ()):
                if target.startswith(WAREHOUSE_OPENERS):
                    raise AssertionError(f"{start} reaches {target} through {module}")
                if target not in seen and target in GRAPH:
                    seen.add(target)
                    todo.append(target)


def test_importing_the_edge_loads_no_warehouse_driver() -> None:
    edge = sorted(m for m in MODULES if _room(m) == "edge")
    code = (
        "import importlib, json, sys\n"
        f"for name in {edge!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({WAREHOUSE_OPENERS!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
