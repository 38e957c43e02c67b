"""How the suite is laid out and run (architecture.md, Tests): helpers live in tests/support/ and
shared fixtures in conftests, so no module imports another test module (which pytest also
collects); warnings are errors and markers must be declared."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from tests.support.paths import ROOT

TESTS = ROOT / "tests"


def imported_modules(path: Path) -> set[str]:
    """The absolute module names a file imports (the suite uses no relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and parts[-1].startswith("test_")


def test_imports_of_test_modules_are_found() -> None:
    """The check itself: both spellings of an import of a test module are seen."""
    probe = TESTS / "support" / "paths.py"
    assert not any(is_test_module(m) for m in imported_modules(probe))
    assert is_test_module("tests.ledger.test_posting")
    assert not is_test_module("tests.support.ledger") and not is_test_module("pytest")


def test_no_module_imports_a_test_module() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if is_test_module(m))
        for path in sorted(TESTS.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_a_warning_fails_the_test_that_raised_it() -> None:
    with pytest.raises(DeprecationWarning):
        warnings.warn("a deprecated call of ours", DeprecationWarning, stacklevel=1)


def test_markers_must_be_declared(pytestconfig: pytest.Config) -> None:
    """A misspelt `@pytest.mark.postgres` would silently run a PostgreSQL test on SQLite."""
    assert pytestconfig.getoption("strict_markers")
