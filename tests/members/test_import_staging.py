"""Members import in bounded memory (issue 15): rows are staged in a temporary table that is
gone after every import (success, problems, dry run, any error), the rules across rows run in
SQL against the file and the register, writes are read back in keyed chunks, and problems and
warnings are capped in line order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import Problems, RowCheck
from gateway.models import Beneficiary, Household, HouseholdPhone, Mutual
from gateway.services.members import importer, upsert
from gateway.services.members.importer import COLUMNS, ImportErrors, import_members
from gateway.services.members.staging import TABLES
from tests.support.paths import DATA

HEADER = ",".join(COLUMNS) + "\n"


def _row(household: str, member: str, relation: str = "child", **cells: str) -> str:
    values = {"household_number": household, "member_number": member, "full_name": "A B"}
    values |= {"sex": "F", "relationship": relation, "enrolled_on": "2025-01-01"}
    if relation == "head":
        values["phone"] = "70 12 34 56"
    values.update(cells)
    return ",".join(values.get(column, "") for column in COLUMNS) + "\n"


def _staging_tables(db: Session) -> list[str]:
    """The staging tables that exist on the session's connection (temporary ones included)."""
    names = [table.name for table in TABLES]
    if db.get_bind().dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
        return [name for name in db.scalars(text(query)) if name in names]
    query = "SELECT to_regclass(:name)"
    return [name for name in names if db.scalar(text(query), {"name": name}) is not None]


def _counts(db: Session) -> tuple[int, ...]:
    tables = (Household, Beneficiary, HouseholdPhone)
    return tuple(int(db.scalar(select(func.count()).select_from(t)) or 0) for t in tables)


@pytest.fixture
def chunk_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every staging write and every keyed read crosses chunk boundaries."""
    monkeypatch.setattr(importer, "CHUNK", 2)


@pytest.mark.usefixtures("chunk_of_two")
def test_staging_is_gone_after_success_problems_and_dry_run(
    db: Session, toml_mutual: Mutual
) -> None:
    assert import_members(db, toml_mutual, DATA / "members.csv").beneficiaries_created == 7
    assert _staging_tables(db) == []
    assert import_members(db, toml_mutual, DATA / "members.csv", dry_run=True).dry_run
    assert _staging_tables(db) == []
    with pytest.raises(ImportErrors):
        import_members(db, toml_mutual, DATA / "members_bad.csv")
    assert _staging_tables(db) == []
    assert _counts(db) == (3, 7, 5)  # the bad file wrote nothing


def test_staging_is_gone_after_an_unexpected_error(
    db: Session, toml_mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(self: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(upsert.Upsert, "run", fail)
    with pytest.raises(RuntimeError, match="boom"):
        import_members(db, toml_mutual, DATA / "members.csv")
    assert _staging_tables(db) == []


@pytest.mark.usefixtures("chunk_of_two")
def test_a_bad_last_line_writes_nothing(db: Session, toml_mutual: Mutual) -> None:
    """Every row is checked before anything is written, however many chunks came before."""
    text_ = HEADER + "".join(_row(str(n), f"{n}01", "head") for n in range(1, 8))
    text_ += _row("8", "801", "head", sex="X")
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text_)
    assert raised.value.errors == ["line 9: sex: must be one of M, F, got 'X'"]
    assert _counts(db) == (0, 0, 0)
    assert import_members(db, toml_mutual, text_.replace(",X,", ",M,")).households_created == 8


@pytest.mark.usefixtures("chunk_of_two")
def test_reimport_in_chunks_updates_counts_and_phones(db: Session, toml_mutual: Mutual) -> None:
    """Households spread over chunks: a dependant's phone far from its head's line, a changed
    category (category_since), an unchanged household, a new member of an old household."""
    first = HEADER + _row("1", "101", "head") + _row("2", "201", "head", phone="70 11 11 11")
    first += _row("3", "301", "head", phone="70 22 22 22") + _row("1", "102")
    import_members(db, toml_mutual, first)
    again = HEADER + _row("1", "101", "head") + _row("2", "201", "head", phone="70 11 11 11")
    again += _row("3", "301", "head", phone="70 22 22 22", category="indigent")
    again += _row("1", "102", phone="76 00 00 01", full_name="C D") + _row("2", "202")
    report = import_members(db, toml_mutual, again)
    assert (report.households_created, report.households_updated) == (0, 2)
    assert report.households_unchanged == 1
    assert (report.beneficiaries_created, report.beneficiaries_updated) == (1, 1)
    assert report.beneficiaries_unchanged == 3
    one = db.scalars(select(Household).where(Household.number == "1")).one()
    assert [(p.msisdn, p.is_primary) for p in one.phones] == [
        ("+22670123456", True),
        ("+22676000001", False),
    ]
    three = db.scalars(select(Household).where(Household.number == "3")).one()
    assert three.category == "indigent"


def test_problems_are_capped_in_line_order(
    db: Session, toml_mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A huge bad file lists the first problems of every kind in line order, then how many
    more; the total is the count of them all."""
    monkeypatch.setattr(importer, "CAP", 3)
    text_ = HEADER + _row("1", "101", "head") + _row("1", "101")  # duplicate (line 3)
    text_ += _row("2", "201", "head", sex="X") + _row("3", "301")  # bad cell, no head
    text_ += "".join(_row("4", f"40{n}", "head", phone="70 11 11 11") for n in range(1, 6))
    with pytest.raises(ImportErrors) as raised:
        import_members(db, toml_mutual, text_)
    assert raised.value.errors == [
        "line 3: member_number: '101' already on line 2",
        "line 4: sex: must be one of M, F, got 'X'",
        "line 5: relationship: household '3' has no head",
        "... and 4 more problem(s)",  # the four second heads of household 4
    ]
    assert str(raised.value).startswith("7 problem(s), nothing imported")
    assert _counts(db) == (0, 0, 0)


def test_warnings_are_capped_in_line_order(
    db: Session, toml_mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "CAP", 2)
    text_ = HEADER + _row("1-0", "1-001", "head") + _row("1-0", "1-002", section="Sud")
    text_ += _row("10", "10-01", "head", phone="70 11 11 11")
    report = import_members(db, toml_mutual, text_)
    assert report.warnings == [
        "line 2: household_number: same digits 10 as household '10'",
        "line 2: member_number: same digits 1001 as member '10-01'",
        "... and 3 more problem(s)",
    ]
    assert report.households_created == 2


def test_a_row_past_the_cap_is_still_a_bad_row() -> None:
    """RowCheck counts the problems beyond a Problems cap: the row is not taken as good."""
    problems = Problems(cap=1)
    problems.add(1, "sex", "bad")
    row = RowCheck(2, {"sex": "X"}, problems)
    row.add("sex", "bad too")
    assert not row.ok and problems.total == 2 and len(problems) == 1
