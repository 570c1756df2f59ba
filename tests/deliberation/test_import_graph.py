"""The shape of `deliberation/`'s imports: dependencies point one way.

Read from the source with `ast` (nothing is imported), so a cycle is found even where Python
would happen to cope with it. Three rules:

- no import cycle among the package's modules (an edge is a module-level import; importing a
  package also runs its `__init__`);
- no import inside a function or class body (the usual way of hiding a cycle);
- no private name (`_name`) of one module used by another, imported or reached as an attribute.
"""

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Graph:
    edges: dict[str, set[str]] = field(default_factory=dict)
    nested_imports: list[str] = field(default_factory=list)
    private_uses: list[str] = field(default_factory=list)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module `name` is, or the nearest package above it that is one of ours."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _packages_above(name: str, importer: str, modules: set[str]) -> set[str]:
    """Importing `a.b.c` runs `a/__init__` and `a/b/__init__` first, unless the importer is
    itself inside that package (which is then already being imported)."""
    parts = name.split(".")
    above = {".".join(parts[:i]) for i in range(1, len(parts))} & modules
    return {p for p in above if not importer.startswith(p + ".")}


def import_graph(root: Path, package: str) -> Graph:
    """The module-level import edges between the modules of `package` under `root`, with every
    function- or class-level import and every cross-module private name found on the way."""
    files = {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    modules = set(files)
    graph = Graph(edges={name: set() for name in modules})
    for name, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        aliases: dict[str, str] = {}  # local name -> one of our modules
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            where = f"{path.relative_to(root)}:{node.lineno}"
            targets: list[tuple[str, str | None]] = []  # (module, name imported from it)
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == package:
                        targets.append((alias.name, None))
                        aliases[alias.asname or alias.name] = alias.name
            else:
                base = node.module or ""
                if node.level:
                    anchor = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}".strip(".")
                if base.split(".")[0] != package:
                    continue
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        targets.append((submodule, None))
                        aliases[alias.asname or alias.name] = submodule
                    else:
                        targets.append((base, alias.name))
            if not targets:
                continue
            if node.col_offset > 0 and _inside_body(tree, node):
                graph.nested_imports.append(where)
                continue
            for target, imported in targets:
                module = _resolve(target, modules)
                if module is None:
                    continue
                for needed in {module} | _packages_above(module, name, modules):
                    if needed != name:
                        graph.edges[name].add(needed)
                if imported and imported.startswith("_") and not imported.startswith("__"):
                    graph.private_uses.append(f"{where} imports {imported} from {module}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and aliases[node.value.id] != name
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                graph.private_uses.append(
                    f"{path.relative_to(root)}:{node.lineno} uses "
                    f"{aliases[node.value.id]}.{node.attr}"
                )
    return graph


def _inside_body(tree: ast.Module, target: ast.AST) -> bool:
    """Whether `target` sits in a function or class body (not merely under a module-level `if`
    or `try`, which still runs at import time)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            if any(child is target for child in ast.walk(node)):
                return True
    return False


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path that returns to its start, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(edges, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt, BLACK) == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if colour.get(nxt) == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(edges):
        if colour[start] == WHITE:
            found = visit(start)
            if found:
                return found
    return None


@pytest.fixture(scope="module")
def deliberation_graph() -> Graph:
    return import_graph(ROOT, "deliberation")


def test_deliberation_has_no_import_cycle(deliberation_graph):
    cycle = find_cycle(deliberation_graph.edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_deliberation_imports_only_at_module_level(deliberation_graph):
    assert deliberation_graph.nested_imports == []


def test_no_module_of_deliberation_uses_another_ones_private_names(deliberation_graph):
    assert deliberation_graph.private_uses == []


def test_services_sit_above_selectors_and_below_tasks(deliberation_graph):
    """The layers: selectors never reach up into services, services never into tasks or views."""
    edges = deliberation_graph.edges
    for module, targets in edges.items():
        if module.startswith("deliberation.selectors"):
            assert not {t for t in targets if t.startswith("deliberation.services")}, module
        if module.startswith("deliberation.services"):
            upward = {
                t for t in targets if t.startswith(("deliberation.tasks", "deliberation.views"))
            }
            assert not upward, module


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_find_a_cycle_a_hidden_import_and_a_private_name(tmp_path):
    """The checks themselves, on a made-up package with each fault once."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/services/__init__.py": "",
            "pkg/services/a.py": "from pkg.services.b import run\n",
            "pkg/services/b.py": (
                "from pkg.services import c\n\ndef run():\n    from pkg.services import a\n"
            ),
            "pkg/services/c.py": "import os.path\n\nfrom pkg.services.a import _secret\n",
            "pkg/services/d.py": "from pkg.services import a\n\nx = a._hidden\n",
            "pkg/clean.py": "import os\n\nfrom pkg.services.a import run\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    cycle = find_cycle(graph.edges)
    assert cycle is not None and set(cycle) == {
        "pkg.services.a",
        "pkg.services.b",
        "pkg.services.c",
    }
    assert graph.nested_imports == ["pkg/services/b.py:4"]
    assert graph.private_uses == [
        "pkg/services/c.py:3 imports _secret from pkg.services.a",
        "pkg/services/d.py:3 uses pkg.services.a._hidden",
    ]
    graph.edges["pkg.services.c"].discard("pkg.services.a")
    assert find_cycle(graph.edges) is None
