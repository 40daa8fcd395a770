"""The architecture is in the layout.

- The core/shell boundary: only ``raysweep/shell`` may import Ray or MLflow.
- Tests mirror the package: the test of ``raysweep/a/b.py`` is ``tests/raysweep/a/test_b.py`` (of a
  package's ``__init__.py`` that defines something, ``test_init.py``), and every test module there
  tests a module that exists. ``tests/raysweep`` holds no ``__init__.py``: it would shadow the package.
- Every folder of ``tests`` mirrors a folder of the repository (``raysweep``, ``analysis``, ``k8s``: its
  manifests against pinned schemas) or is one of the two that mirror nothing: ``system`` (end to end)
  and ``helpers``; no test module sits beside this one.
- No test module imports another test module: shared fixtures live in ``conftest.py``, shared code in
  ``tests/helpers`` (which defines no fixtures).
- No import circle among raysweep's modules.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import raysweep

PACKAGE = Path(raysweep.__file__).parent
SHELL = PACKAGE / "shell"
TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MIRROR = TESTS / "raysweep"
MIRRORING_NOTHING = {"system": "end-to-end tests of the whole tool", "helpers": "code the tests share"}
FORBIDDEN = ("ray", "mlflow")

KNOWN_CIRCLES: list[list[str]] = []
"""Circles that exist today (none: the resume command has its own module, ``shell.resume``, so
``launch`` no longer imports ``cli``). Listed so that any other circle fails, and kept honest: the
test fails too once one of these is gone."""


def core_modules() -> list[str]:
    """Every importable module of the core: the package minus ``shell`` and the CLI shim."""
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="raysweep."):
        if info.name.startswith("raysweep.shell") or info.name == "raysweep.launch":
            continue
        names.append(info.name)
    return names


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def defines_something(path: Path) -> bool:
    """Whether a module has code of its own to test: a function or a class at its top level."""
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) for node in tree.body)


def mirrored_test(path: Path) -> Path:
    relative = path.relative_to(PACKAGE)
    return MIRROR / relative.parent / f"test_{relative.name.replace('__init__', 'init')}"


# ---------------------------------------------------------------------------------------------
# The core/shell boundary
# ---------------------------------------------------------------------------------------------


def test_core_sources_never_import_ray_or_mlflow() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_roots(path) & set(FORBIDDEN))
        for path in PACKAGE.rglob("*.py")
        if SHELL not in path.parents
    }
    offenders = {name: roots for name, roots in offenders.items() if roots}
    assert offenders == {}, f"core modules importing the shell's dependencies: {offenders}"
    # The check is not vacuous: the shell does import them.
    assert {"ray", "mlflow"} <= set().union(*(imported_roots(p) for p in SHELL.rglob("*.py")))


def test_importing_every_core_module_loads_neither_ray_nor_mlflow() -> None:
    modules = core_modules()
    assert "raysweep.loop" in modules and "raysweep.heuristics.coreset" in modules
    code = (
        f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted({{m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}}})\n"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Tests mirror the package
# ---------------------------------------------------------------------------------------------


def test_every_module_has_its_mirrored_test_module() -> None:
    sources = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or defines_something(p)]
    missing = sorted(
        str(mirrored_test(p).relative_to(TESTS)) for p in sources if not mirrored_test(p).is_file()
    )
    assert missing == [], f"modules without their test module: {missing}"
    # Not vacuous: the mirror holds the modules of every level, packages' code included.
    assert {"heuristics/__init__.py", "shell/tracking/patience.py", "loop.py"} <= {
        str(p.relative_to(PACKAGE)) for p in sources
    }


def test_every_mirrored_test_module_tests_a_module_that_exists() -> None:
    orphans = []
    for test in MIRROR.rglob("test_*.py"):
        relative = test.relative_to(MIRROR)
        name = relative.name.removeprefix("test_")
        source = PACKAGE / relative.parent / ("__init__.py" if name == "init.py" else name)
        if not source.is_file():
            orphans.append(str(test.relative_to(TESTS)))
    assert sorted(orphans) == [], f"test modules of no module: {orphans}"
    packages_in_the_mirror = sorted(str(p.relative_to(TESTS)) for p in MIRROR.rglob("__init__.py"))
    assert packages_in_the_mirror == [], f"these shadow the raysweep package: {packages_in_the_mirror}"


def test_every_test_folder_mirrors_a_folder_of_the_repository() -> None:
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    strays = sorted(name for name in folders - set(MIRRORING_NOTHING) if not (REPO / name).is_dir())
    assert strays == [], f"test folders that mirror no folder of the repository: {strays}"
    beside = sorted(p.name for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    assert beside == [], f"test modules outside a mirror or tests/system: {beside}"
    # Not vacuous: the mirrors of the package, the analysis and the manifests are there.
    assert {"raysweep", "analysis", "k8s", *MIRRORING_NOTHING} <= folders


def test_no_test_module_imports_another_and_helpers_define_no_fixtures() -> None:
    offenders = {}
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        tests = sorted(
            n for n in names if any(p.startswith("test_") or p == "conftest" for p in n.split("."))
        )
        if tests:
            offenders[str(path.relative_to(TESTS))] = tests
    assert offenders == {}, f"test modules importing test modules: {offenders}"
    fixtures = sorted(
        str(path.relative_to(TESTS))
        for path in (TESTS / "helpers").rglob("*.py")
        if "pytest.fixture" in path.read_text()
    )
    assert fixtures == [], f"fixtures belong in conftest.py: {fixtures}"


# ---------------------------------------------------------------------------------------------
# No import circle
# ---------------------------------------------------------------------------------------------


def internal_imports(path: Path, modules: set[str]) -> set[str]:
    """The raysweep modules ``path`` imports, at its top or inside a function (an import inside
    ``if TYPE_CHECKING:`` is for the type checker only and does not count)."""
    found = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.If)
                and isinstance(child.test, ast.Name)
                and child.test.id == "TYPE_CHECKING"
            ):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.add(child.module)
                found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found & modules


def import_circles() -> list[list[str]]:
    """The strongly connected components of raysweep's import graph with more than one module."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: internal_imports(path, set(paths)) - {name} for name, path in paths.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def connect(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(circles)


def test_no_import_circle_among_raysweep_modules() -> None:
    assert import_circles() == KNOWN_CIRCLES, (
        "an import circle among raysweep's modules (or a known one is gone: update KNOWN_CIRCLES)"
    )
