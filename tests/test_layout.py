"""The core/shell boundary is in the layout: only ``raysweep/shell`` may import Ray or MLflow."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import raysweep

PACKAGE = Path(raysweep.__file__).parent
SHELL = PACKAGE / "shell"
FORBIDDEN = ("ray", "mlflow")


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


def test_launch_entry_point_is_the_shell_cli() -> None:
    from raysweep import launch
    from raysweep.shell import cli

    assert launch.main is cli.main
