"""Reading the production code: its modules and their imports (the layering rules), and its
string literals (the rules that give a text one home)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = ("gateway", "worker")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(name: str, path: Path) -> set[str]:
    """Every module named by an import statement, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def production_files() -> list[Path]:
    """Every Python module of the gateway and the worker."""
    return sorted(p for package in ("gateway", "worker") for p in (ROOT / package).rglob("*.py"))


def literals(paths: list[Path], wanted: Callable[[str], bool], *, home: Path) -> list[str]:
    """`path:line 'text'` of each string literal (f-string parts included) that WANTED picks,
    in every path but HOME, the one module allowed to hold them."""
    found: list[str] = []
    for path in paths:
        if path == home:
            continue
        found += [
            f"{path}:{node.lineno} {node.value!r}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and wanted(node.value)
        ]
    return found
