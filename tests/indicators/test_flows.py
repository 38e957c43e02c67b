"""D22 flows read from their own tables: levies and funders' receivables from the ledger (D4,
D25), USSD sessions completed or dropped and where (ussd.md), and the reporting periods'
parsing (a clear error for anything but YYYY or YYYY-MM)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from gateway.models import Mutual, UssdHop, UssdSessionEvent
from gateway.services.indicators import BadPeriod, compute, parse_period, periods_between, value
from gateway.services.ledger import accounts, post, reverse
from tests.support.factories import make_mutual

D = dt.date
AT = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)


def _figures(db: Session, mutual: Mutual, label: str) -> dict[tuple[str, str], int]:
    found = compute(db, [mutual.id], [parse_period(label)], D(2026, 3, 15))
    return {(code, key): num for (_, _, _, code, key), (num, _) in found.items()}


def test_levies_and_funders_from_the_ledger(db: Session) -> None:
    mutual = make_mutual(db)
    levy, funder = accounts.levy("FNS"), accounts.receivable("ETAT")
    earned = [(accounts.contributions(), 300), (levy, -300)]
    post(db, mutual_id=mutual.id, key="l1", kind="t", occurred_on=D(2026, 2, 1), lines=earned)
    second = post(
        db, mutual_id=mutual.id, key="l2", kind="t", occurred_on=D(2026, 2, 2), lines=earned
    )
    reverse(db, second, key="l2-rev", occurred_on=D(2026, 2, 3), description="departure")
    post(
        db,
        mutual_id=mutual.id,
        key="r1",
        kind="t",
        occurred_on=D(2026, 2, 4),
        lines=[(levy, 100), (accounts.bank(), -100)],
    )
    post(
        db,
        mutual_id=mutual.id,
        key="f1",
        kind="t",
        occurred_on=D(2026, 2, 5),
        lines=[(funder, 6000), (accounts.contributions(), -6000)],
    )
    post(
        db,
        mutual_id=mutual.id,
        key="f2",
        kind="t",
        occurred_on=D(2026, 2, 6),
        lines=[(accounts.bank(), 4000), (funder, -4000)],
    )
    got = _figures(db, mutual, "2026-02")
    assert got[("LEVY_OWED", "FNS")] == 300  # 300 + 300 - 300 reversed
    assert got[("LEVY_PAID", "FNS")] == 100
    assert got[("FUNDER_OWED", "ETAT")] == 6000
    assert got[("FUNDER_PAID", "ETAT")] == 4000


def _session(db: Session, mutual: Mutual, sid: str, status: str, screens: list[str]) -> None:
    for n, screen in enumerate(screens):
        db.add(
            UssdHop(
                provider="at",
                session_id=sid,
                phone_masked="+22670****01",
                service_code="*123#",
                screen=screen,
                input_masked="",
                reply="CON x",
                latency_ms=5,
                created_at=AT + dt.timedelta(seconds=n),
                mutual_id=mutual.id,
            )
        )
    db.add(
        UssdSessionEvent(
            provider="at",
            session_id=sid,
            phone_masked="+22670****01",
            service_code="*123#",
            status=status,
            input_masked="",
            received_at=AT + dt.timedelta(minutes=1),
            mutual_id=mutual.id,
        )
    )
    db.flush()


def test_ussd_completed_and_dropped_per_screen(db: Session) -> None:
    mutual = make_mutual(db)
    _session(db, mutual, "s1", "Success", ["menu", "status"])
    _session(db, mutual, "s2", "Incomplete", ["menu", "pay_amount"])
    _session(db, mutual, "s3", "Failed", ["menu"])
    found = compute(db, [mutual.id], [parse_period("2026")], D(2026, 3, 15))
    cells = {(code, key): cell for (_, _, _, code, key), cell in found.items()}
    assert cells[("USSD", "")] == [3, 1]
    assert cells[("USSD_DONE", "")] == [1, 3]  # 1 Success of 3 ended
    assert cells[("USSD_DROP", "pay_amount")][0] == 1 and cells[("USSD_DROP", "menu")][0] == 1


def test_periods_and_values() -> None:
    assert parse_period("2026-02").end == D(2026, 2, 28) and parse_period(" 2024 ").monthly is False
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026").previous().label == "2025"
    for bad in ("2026-1", "26", "2026-00", "x", "1800"):
        with pytest.raises(BadPeriod):
            parse_period(bad)
    assert [p.label for p in periods_between(D(2025, 11, 3), D(2026, 1, 2))] == [
        "2025",
        "2026",
        "2025-11",
        "2025-12",
        "2026-01",
    ]
    assert periods_between(D(2026, 2, 1), D(2026, 1, 1)) == []
    assert value("M.6", 1, 3) == 0.3333 and value("M.6", 1, 0) is None and value("HH", 5, 1) == 5.0
