"""`payments import` in bounded memory (issue 15): lines staged in a temporary table that is
gone after every import, received in (paid_on, line) order across keyed chunks, problems
capped in line order, nothing written when any line is bad."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.models import Mutual, Payment
from gateway.services.members.importer import ImportErrors, import_members
from gateway.services.payments import history_import
from gateway.services.payments.history_import import import_payments
from tests.support.paths import DATA

HEADER = "household_number,amount,paid_on,channel,reference\n"


@pytest.fixture
def mutual_with_members(toml_mutual: Mutual, db: Session) -> Mutual:
    import_members(db, toml_mutual, DATA / "members.csv")
    return toml_mutual


def _staged(db: Session) -> bool:
    name = history_import.STAGE.name
    if db.get_bind().dialect.name == "sqlite":
        query = "SELECT COUNT(*) FROM sqlite_temp_master WHERE name = :name"
        return bool(db.scalar(text(query), {"name": name}))
    return db.scalar(text("SELECT to_regclass(:name)"), {"name": name}) is not None


def _payments(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Payment)) or 0)


def test_received_in_date_order_across_chunks(
    db: Session, mutual_with_members: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 2: the keyed reads still give (paid_on, line) order, ties by line."""
    monkeypatch.setattr(history_import, "CHUNK", 2)
    lines = [
        "H-001,100,2026-01-10,cash,R-1",
        "H-002,100,2025-12-01,cash,R-2",
        "H-003,100,2026-01-10,cash,R-3",
        "H-001,100,2025-12-01,cash,R-4",
        "H-002,100,2025-11-30,cash,R-5",
    ]
    report = import_payments(db, mutual_with_members, HEADER + "\n".join(lines) + "\n")
    assert report.references == ["R-5", "R-2", "R-4", "R-1", "R-3"]
    assert not _staged(db)
    again = import_payments(db, mutual_with_members, HEADER + "\n".join(lines) + "\n")
    assert (again.created, again.already_present) == (0, 5)


def test_bad_lines_capped_in_line_order_and_nothing_written(
    db: Session, mutual_with_members: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_import, "CAP", 2)
    text_ = HEADER + "H-001,100,2026-01-10,cash,R-1\n"
    text_ += "H-404,100,2026-01-10,cash,R-2\n"  # unknown household (line 3)
    text_ += "H-001,100,2026-01-10,cash,R-1\n"  # repeated reference (line 4)
    text_ += "H-001,x,2026-01-10,cash,R-3\n"  # bad amount (line 5)
    with pytest.raises(ImportErrors) as raised:
        import_payments(db, mutual_with_members, text_)
    assert raised.value.errors == [
        "line 3: household_number: unknown household 'H-404'",
        "line 4: reference: 'R-1' already on line 2",
        "... and 1 more problem(s)",
    ]
    assert str(raised.value).startswith("3 problem(s)")
    assert _payments(db) == 0
    assert not _staged(db)
