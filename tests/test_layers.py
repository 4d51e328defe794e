"""The layer contracts hold, the checker catches a break, and what import-linter cannot see is checked here.

* ``lint-imports`` (pyproject.toml ``[tool.importlinter]``) passes on the tree;
* it fails, naming the contract, when a lower layer imports a higher one (run on a copy of the tree);
* no module loads a project module by name (``importlib`` / ``__import__``: invisible to import-linter)
  except ``marketplace/features.py``, the feature discovery;
* every import of a project module inside a function says why it is deferred: ``# deferred import: <reason>``
  on the import's line.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("marketplace", "workers", "search", "admin")
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

# The one module allowed to load project modules by name.
DISCOVERY = "marketplace/features.py"
# Known exceptions (none today). Strict: an entry must go once its file stops loading modules by name.
KNOWN_LOADING_BY_NAME: dict[str, str] = {}

DEFERRED = "# deferred import:"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_lint_imports_passes() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout


def _copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "templates")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def _add_import(path: Path, statement: str) -> None:
    source = path.read_text()
    path.write_text(f"{statement}  # noqa: F401\n{source}")


def test_lint_imports_catches_upward_imports(tmp_path: Path) -> None:
    """A copy of the tree with deliberate breaks: each is reported under the contract it breaks."""
    _copy_tree(tmp_path)
    _add_import(tmp_path / "marketplace/resources/taxonomy.py", "import marketplace.reports")
    _add_import(tmp_path / "marketplace/funds/jobs.py", "import workers.runtime")
    _add_import(tmp_path / "search/port.py", "import marketplace.settings")
    result = lint_imports(tmp_path)
    out = " ".join(result.stdout.split())  # the report wraps long lines
    assert result.returncode != 0, out
    layers = "Layers: search < core < auth, geography < audit < resources"
    assert layers in out and "BROKEN" in out, out
    assert "marketplace.resources is not allowed to import marketplace.reports" in out, out
    assert "marketplace.resources.taxonomy -> marketplace.reports (l.1)" in out, out
    assert "marketplace.funds is not allowed to import workers" in out, out
    assert "marketplace.funds.jobs -> workers.runtime (l.1)" in out, out
    assert "search/ depends on no part of the app (labels and documents are passed in) BROKEN" in out, out
    assert "search.port -> marketplace.settings (l.1)" in out, out


# ---------------------------------------------------------------- what import-linter cannot see


def _sources() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _is_project(module: str | None, level: int = 0) -> bool:
    return level > 0 or (module or "").split(".")[0] in PACKAGES


def loads_by_name(source: str) -> Iterator[tuple[int, str]]:
    """Calls that import (or look up) a module by name, unless the name is a literal outside the project."""
    loaders = {"import_module", "find_spec", "__import__", "reload", "find_loader"}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name not in loaders:
            continue
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str) and not _is_project(first.value):
            continue
        yield node.lineno, ast.unparse(node)


def undocumented_deferred_imports(source: str) -> Iterator[tuple[int, str]]:
    """Imports of project modules inside a function whose lines carry no ``# deferred import: <reason>``."""
    lines = source.splitlines()

    def documented(node: ast.stmt) -> bool:
        for line in lines[node.lineno - 1 : (node.end_lineno or node.lineno)]:
            _, marker, reason = line.partition(DEFERRED)
            if marker and reason.strip():
                return True
        return False

    def visit(node: ast.AST, in_function: bool) -> Iterator[tuple[int, str]]:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    project = any(_is_project(alias.name) for alias in child.names)
                else:
                    project = _is_project(child.module, child.level)
                if project and not documented(child):
                    yield child.lineno, ast.unparse(child)
            yield from visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    yield from visit(ast.parse(source), False)


def _loading_params() -> list[object]:
    params: list[object] = []
    for path in _sources():
        if path == DISCOVERY:
            continue
        reason = KNOWN_LOADING_BY_NAME.get(path)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(path, marks=marks, id=path))
    return params


@pytest.mark.parametrize("path", _loading_params())
def test_no_module_loaded_by_name(path: str) -> None:
    found = list(loads_by_name((ROOT / path).read_text()))
    assert not found, "\n".join(f"{path}:{line}: {call}" for line, call in found)


@pytest.mark.parametrize("path", _sources())
def test_deferred_imports_say_why(path: str) -> None:
    found = list(undocumented_deferred_imports((ROOT / path).read_text()))
    assert not found, "\n".join(f"{path}:{line}: {stmt}  (add '{DEFERRED} <reason>')" for line, stmt in found)


def test_the_source_checks_find_what_they_look_for() -> None:
    """The two checks above on small sources: what they must report and what they must let through."""
    by_name = """
import importlib
import importlib.util

def f(name):
    importlib.import_module(f"marketplace.{name}.jobs")
    importlib.util.find_spec("marketplace.cases.models")
    __import__(name)
    importlib.import_module("json")
"""
    assert [line for line, _ in loads_by_name(by_name)] == [6, 7, 8]
    deferred = """
import marketplace.db
from search import port

def f():
    from marketplace import outbox
    from marketplace.cases import service  # deferred import: cases sits above this layer
    from . import sibling
    import json
    from workers.tasks import (  # deferred import: the worker imports this module
        run_job,
    )
    from admin import web  # deferred import:

    class Inner:
        def g(self):
            import search.text
"""
    assert [line for line, _ in undocumented_deferred_imports(deferred)] == [6, 8, 13, 17]
