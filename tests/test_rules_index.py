"""The README's rules index against ../shared/spec/domain.md: every rule has a row, every name
it cites imports, and every test file it names exists and cites the rule."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import pytest

from tests.support.paths import ROOT

SPEC = ROOT.parent / "shared" / "spec" / "domain.md"
RULE = re.compile(r"^- \*\*(D\d+b?)\b", re.MULTILINE)
NAME = re.compile(r"`([a-z_][\w.]*)`")
NOT_YET = re.compile(r"\bnot yet: issue \d+|\bthe rest: issue \d+")


@dataclass(frozen=True)
class Row:
    rule: str
    where: str
    tests: str


def index_rows(readme: str) -> list[Row]:
    """The rows of the table under '## Rules index'."""
    section = readme.split("## Rules index", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"D\d+b?", cells[0]):
            rows.append(Row(cells[0], cells[2], cells[3]))
    return rows


def resolves(dotted: str) -> bool:
    """A module, or a module's attribute (a function, a class, a class's attribute)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(found, attr):
                return False
            found = getattr(found, attr)
        return True
    return False


def problems(readme: str, spec: str) -> list[str]:
    rows = index_rows(readme)
    found = []
    indexed = [row.rule for row in rows]
    missing = sorted(set(RULE.findall(spec)) - set(indexed))
    found += [f"{rule}: no row" for rule in missing]
    found += [f"{rule}: more than one row" for rule in set(indexed) if indexed.count(rule) > 1]
    for row in rows:
        names = NAME.findall(row.where)
        if not names and not NOT_YET.search(row.where):
            found.append(f"{row.rule}: names no code and no issue")
        found += [f"{row.rule}: {n} does not import" for n in names if not resolves(n)]
        paths = NAME.findall(row.tests) + re.findall(r"`(tests/[\w/.]+)`", row.tests)
        if not paths and not NOT_YET.search(row.where):
            found.append(f"{row.rule}: no test named")
        for path in dict.fromkeys(p for p in paths if p.startswith("tests/")):
            file = ROOT / path
            if not file.is_file():
                found.append(f"{row.rule}: {path} does not exist")
            elif not re.search(rf"\b{row.rule}\b", file.read_text(encoding="utf-8")):
                found.append(f"{row.rule}: {path} does not cite {row.rule}")
    return found


@pytest.mark.skipif(not SPEC.is_file(), reason="../shared/spec is not beside the project")
def test_the_readme_indexes_every_rule_of_the_spec() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert problems(readme, SPEC.read_text(encoding="utf-8")) == []


def test_the_check_catches_each_kind_of_gap() -> None:
    spec = "- **D1 Product.**\n- **D2 Money.**\n- **D3 Subsidies.**\n- **D4 Levies.**\n"
    readme = (
        "## Rules index\n\n| Rule | What | Implemented in | Tested in |\n"
        "| --- | --- | --- | --- |\n"
        "| D1 | x | `gateway.services.coverage.periods.period_holding` "
        "| `tests/coverage/test_eligibility.py` |\n"
        "| D2 | x | `gateway.services.coverage.periods.no_such_function` "
        "| `tests/no/such_test.py` |\n"
        "| D3 | x | `gateway.lib.phones` | `tests/lib/test_gsm7.py` |\n"
        "\n## Next section\n"
    )
    assert problems(readme, spec) == [
        "D4: no row",
        "D2: gateway.services.coverage.periods.no_such_function does not import",
        "D2: tests/no/such_test.py does not exist",
        "D3: tests/lib/test_gsm7.py does not cite D3",
    ]
