"""The analysis package's layout (analysis/__init__.py): imports go one way, no module reads another's
private names, every section has the one shape, and every module has its test module here."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import analysis
from analysis.report import SECTIONS
from analysis.sections.base import Section, Study

PACKAGE = Path(analysis.__file__).parent
TESTS = Path(__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> dict[str, set[str]]:
    """analysis module -> the names ``path`` imports from it (``*`` for the module itself), at any depth."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    found.setdefault(alias.name, set()).add("*")
        elif isinstance(node, ast.ImportFrom) and node.module in MODULES:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:
                    found.setdefault(submodule, set()).add("*")
                else:
                    found.setdefault(node.module, set()).add(alias.name)
    return found


GRAPH = {name: imports(path) for name, path in MODULES.items()}


def test_no_module_imports_another_modules_private_names():
    private = {
        (name, f"{target}.{imported}")
        for name, targets in GRAPH.items()
        for target, names in targets.items()
        for imported in names
        if imported.startswith("_") and target != name
    }
    # nor reaches for them through the module: plots._legend_below
    for name, path in MODULES.items():
        aliases = {target.rsplit(".", 1)[-1] for target in GRAPH[name]}
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                private.add((name, f"{node.value.id}.{node.attr}"))
    assert private == set()


def test_the_imports_of_the_package_have_no_circle():
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for target in GRAPH[name]:
            if target == name or target == "analysis":
                continue
            assert target not in path, f"import circle: {' -> '.join([*path, target])}"
            if target not in done:
                visit(target, [*path, target])
        done.add(name)

    for name in MODULES:
        visit(name, [name])
    # render and load are the bottom of the package
    assert not GRAPH["analysis.render"] and not GRAPH["analysis.load"]


def test_every_section_is_one_function_of_a_study_returning_a_section():
    assert [build.__module__ for build in SECTIONS] == [
        f"analysis.sections.{build.__name__}" for build in SECTIONS
    ]  # one module per section, named after it
    sections = {
        name for name in MODULES if name.startswith("analysis.sections.") and name != "analysis.sections.base"
    }
    assert sections == {build.__module__ for build in SECTIONS}  # and every section module is in the report
    for build in SECTIONS:
        signature = inspect.signature(build)
        assert list(signature.parameters) == ["study"], build.__name__
        assert signature.parameters["study"].annotation in (Study, "Study"), build.__name__
        assert signature.return_annotation in (Section, "Section"), build.__name__


def test_every_module_has_its_test_module():
    expected = set()
    for name, path in MODULES.items():
        if path.name == "__init__.py" and name != "analysis":
            continue  # analysis.sections holds nothing but its docstring
        relative = path.relative_to(PACKAGE)
        stem = {"__main__": "main", "__init__": "init"}.get(relative.stem, relative.stem)
        expected.add(relative.parent / f"test_{stem}.py")
    missing = sorted(str(p) for p in expected if not (TESTS / p).exists())
    assert missing == []
