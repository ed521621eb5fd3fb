"""The import rules of the house, read from the code itself (no import is executed):

- an import inside a function exists only to defer a dependency, so it carries a
  ``# deferred: <why>`` comment and defers something its module does not already load at import
  time (the module's top-level imports, followed through ``harness``);
- the light entry points (the API, the store and the CLI's command table) load no torch.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "api")
REASON = "# deferred:"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted modules one import statement loads (``from a import b`` may load ``a.b``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (``if TYPE_CHECKING:`` blocks do not)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and not is_type_checking(node):
            pending.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            pending.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                pending.extend(handler.body)


def function_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


@functools.cache
def parsed() -> dict[str, tuple[ast.Module, list[str], bool]]:
    out = {}
    for name, path in source_files().items():
        text = path.read_text()
        out[name] = (ast.parse(text), text.splitlines(), path.name == "__init__.py")
    return out


def with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.cache
def loaded_on_import(module: str) -> frozenset[str]:
    """Every dotted module importing ``module`` loads, following our own modules' top-level
    imports (third-party modules are taken as the names imported, not what they load)."""
    seen: set[str] = set()
    pending = [module]
    modules = parsed()
    while pending:
        name = pending.pop()
        for dotted in with_parents(name):
            if dotted in seen:
                continue
            seen.add(dotted)
            if dotted in modules:
                tree, _, is_package = modules[dotted]
                for node in top_level_imports(tree):
                    pending.extend(imported_names(node, dotted, is_package))
    return frozenset(seen)


def reason_above(lines: list[str], lineno: int) -> bool:
    """A ``# deferred:`` comment on the import's line, or in the comment block and imports
    directly above it (one reason serves a block of imports)."""
    index = lineno - 1
    if REASON in lines[index]:
        return True
    index -= 1
    while index >= 0:
        text = lines[index].strip()
        if text.startswith(REASON):
            return True
        if not (text.startswith(("#", "import ", "from ")) or text.endswith((",", "(", ")"))
                or text == ""):
            return False
        index -= 1
    return False


def deferred_imports() -> Iterator[tuple[str, int, list[str], bool]]:
    for module, (tree, lines, is_package) in parsed().items():
        for node in function_imports(tree):
            names = imported_names(node, module, is_package)
            if isinstance(node, ast.ImportFrom):
                names = [name for name in names[1:] if name in parsed()] or names[:1]
            yield module, node.lineno, names, reason_above(lines, node.lineno)


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    unexplained = [f"{module}:{line} {names[0]}"
                   for module, line, names, has_reason in deferred_imports() if not has_reason]
    assert not unexplained, f"imports inside functions without a '{REASON}' comment: {unexplained}"


def test_an_import_inside_a_function_defers_something_its_module_does_not_load_already() -> None:
    stdlib = sys.stdlib_module_names
    pointless = [f"{module}:{line} {names[0]}"
                 for module, line, names, _ in deferred_imports()
                 if names[0].split(".")[0] in stdlib
                 or all(name in loaded_on_import(module) for name in names)]
    assert not pointless, f"imports deferred for nothing (loaded at import already): {pointless}"


def test_the_reader_sees_the_deferral_rules_enforced() -> None:
    # the rule must bite: an import of the standard library inside a function is reported
    tree = ast.parse("def f():\n    import json\n")
    (node,) = function_imports(tree)
    assert imported_names(node, "x", False) == ["json"]
    assert not reason_above(["def f():", "    import json"], 2)
    assert reason_above(["def f():", "    # deferred: heavy", "    import json"], 3)


@pytest.mark.parametrize("entry", ["api.app", "harness.store", "api.dashboard.pages"])
def test_a_light_entry_point_loads_no_torch(entry: str) -> None:
    code = f"import sys, {entry}; print('torch' in sys.modules)"
    seen = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT).stdout.strip()
    assert seen == "False", f"importing {entry} loads torch"
