"""Reading the production code's string literals, for the rules that give a text one home."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from tests.support.paths import ROOT


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
