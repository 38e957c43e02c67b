"""The USSD audit service: masking (no PIN ever stored), hops, idempotent end-of-session
events, and the D22 queries (outcomes, drop-off per screen)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import UssdHop, UssdSessionEvent
from gateway.services.ussd_audit import (
    SessionEnd,
    dropoff_by_screen,
    mask_hop_input,
    mask_inputs,
    record_hop,
    record_session_end,
    session_outcomes,
)

PHONE = "+22670123412"
PIN = "2580"
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def hop(db: Session, session_id: str, screen: str, user_input: str = "", **extra: Any) -> None:
    fields: dict[str, Any] = {
        "provider": "africastalking",
        "session_id": session_id,
        "phone": PHONE,
        "network": "61302",
        "service_code": "*144*7#",
        "screen": screen,
        "user_input": user_input,
        "reply": f"CON {screen}",
        "latency_ms": 12,
        "at": T0,
    }
    record_hop(db, **(fields | extra))


def end(session_id: str, status: str, **extra: Any) -> SessionEnd:
    fields: dict[str, Any] = {
        "provider": "africastalking",
        "session_id": session_id,
        "phone": PHONE,
        "network": "61302",
        "service_code": "*144*7#",
        "status": status,
    }
    return SessionEnd(**(fields | extra))


@pytest.mark.parametrize(
    ("joined", "masked"),
    [
        ("", ""),
        ("1", "1"),
        ("1*2*0", "1*2*0"),
        ("00*98*3", "00*98*3"),
        (f"{PIN}*1", "xxxx*1"),
        ("2*123456*1*10001", "2*xxxx*1*xxxx"),
        ("1*7000*1", "1*xxxx*1"),
        ("1**2", "1**2"),
        ("1*abc", "1*xxxx"),
    ],
)
def test_mask_inputs_keeps_only_menu_choices(joined: str, masked: str) -> None:
    assert mask_inputs(joined) == masked


def test_mask_hop_input_by_screen_and_by_shape() -> None:
    assert mask_hop_input("agent_pin", PIN) == "****"
    assert mask_hop_input("AGENT_PIN_RETRY", "12") == "****"
    assert mask_hop_input("agent_pin", "") == ""
    assert mask_hop_input("visitor_check", "1000101") == "1000101"
    assert mask_hop_input("main", "1") == "1"
    assert mask_hop_input("agent_menu", f"{PIN}*1") == "xxxx*1"  # a deep dial through the PIN


def test_record_hop_stores_masked_phone_and_never_a_pin(db: Session) -> None:
    hop(db, "S1", "agent_pin", PIN, reply="CON Menu agent\n1 Verifier")
    hop(db, "S1", "agent_menu", f"{PIN}*1")
    db.commit()
    rows = db.scalars(select(UssdHop).order_by(UssdHop.id)).all()
    assert [r.input_masked for r in rows] == ["****", "xxxx*1"]
    first = rows[0]
    assert first.phone_masked == "+22670****12"
    assert (first.provider, first.session_id, first.network) == ("africastalking", "S1", "61302")
    assert (first.service_code, first.screen, first.latency_ms) == ("*144*7#", "agent_pin", 12)
    assert first.reply == "CON Menu agent\n1 Verifier"
    assert first.created_at == T0
    for row in rows:
        stored = " ".join(str(v) for k, v in vars(row).items() if not k.startswith("_sa_"))
        assert PIN not in stored and PHONE not in stored


def test_record_hop_cuts_overlong_values_and_accepts_no_network(db: Session) -> None:
    hop(db, "S2", "main", "9" * 500, reply="CON " + "x" * 1000, network=None, latency_ms=-3)
    db.commit()
    row = db.scalars(select(UssdHop)).one()
    assert len(row.reply) == 400 and row.network is None and row.latency_ms == 0
    assert row.input_masked == "9" * 200


def test_session_end_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="status must be one of"):
        end("S", "Timeout")


def test_a_session_end_keeps_its_last_hops_screen(db: Session) -> None:
    """Where the session was when it ended: its last hop's screen, whatever the hops' time."""
    hop(db, "L1", "main")
    hop(db, "L1", "payments", "2", at=T0 - dt.timedelta(minutes=5))  # last written, not newest
    hop(db, "L2", "coverage")
    assert record_session_end(db, end("L1", "Incomplete"), at=T0) is True
    assert record_session_end(db, end("L3", "Failed"), at=T0) is True  # no hop audited
    db.commit()
    query = select(UssdSessionEvent.session_id, UssdSessionEvent.last_screen)
    kept = {session_id: screen for session_id, screen in db.execute(query)}
    assert kept == {"L1": "payments", "L3": None}


def _dropoff_from_hops(db: Session, since: dt.datetime) -> list[tuple[str, int]]:
    """The drop-off as it was computed before the notifications kept the screen (0035): each
    dropped session's last hop, found among the hops."""
    ended = and_(
        UssdSessionEvent.status.in_(("Incomplete", "Failed")), UssdSessionEvent.received_at >= since
    )
    last_hop = (
        select(func.max(UssdHop.id).label("hop_id"))
        .join(
            UssdSessionEvent,
            and_(
                UssdSessionEvent.provider == UssdHop.provider,
                UssdSessionEvent.session_id == UssdHop.session_id,
            ),
        )
        .where(ended)
        .group_by(UssdHop.provider, UssdHop.session_id)
        .subquery()
    )
    count = func.count().label("sessions")
    query = (
        select(UssdHop.screen, count)
        .join(last_hop, UssdHop.id == last_hop.c.hop_id)
        .group_by(UssdHop.screen)
        .order_by(count.desc(), UssdHop.screen)
    )
    return [(screen, n) for screen, n in db.execute(query).all()]


def test_dropoff_by_screen_equals_the_count_from_the_hops(db: Session) -> None:
    screens = ("main", "coverage", "payments", "pay_confirm", "apology")
    statuses = ("Success", "Incomplete", "Failed", None)
    for n in range(120):
        session_id = f"X{n}"
        for k in range(1 + n % 4):
            hop(db, session_id, screens[(n * 7 + k * 3) % len(screens)])
        status = statuses[n % 7 % 4]
        if status:
            at = T0 + dt.timedelta(minutes=n - 30)
            record_session_end(db, end(session_id, status), at=at)
    record_session_end(db, end("no-hops", "Failed"), at=T0)
    db.commit()
    for since in (T0 - dt.timedelta(hours=1), T0, T0 + dt.timedelta(minutes=60)):
        expected = _dropoff_from_hops(db, since)
        assert dropoff_by_screen(db, since) == expected
    assert sum(n for _, n in dropoff_by_screen(db, T0 - dt.timedelta(hours=1))) > 40


def test_record_session_end_is_idempotent_first_copy_wins(db: Session) -> None:
    first = end("S3", "Incomplete", inputs=f"2*{PIN}*1", cost="XOF 0.00", hops_count=3)
    assert record_session_end(db, first, at=T0) is True
    assert record_session_end(db, end("S3", "Success", hops_count=9)) is False
    db.commit()
    row = db.scalars(select(UssdSessionEvent)).one()
    assert (row.status, row.hops_count, row.cost) == ("Incomplete", 3, "XOF 0.00")
    assert row.input_masked == "2*xxxx*1" and row.phone_masked == "+22670****12"
    assert row.received_at == T0
    other_provider = end("S3", "Success", provider="other")
    assert record_session_end(db, other_provider) is True


def test_dropoff_by_screen_counts_the_last_screen_of_dropped_sessions(db: Session) -> None:
    since = T0 - dt.timedelta(hours=1)
    journeys = {  # session: (screens, status, hours after T0 the event arrived)
        "A": (["main", "coverage"], "Incomplete", 0),
        "B": (["main", "coverage"], "Failed", 0),
        "C": (["main", "payments"], "Incomplete", 0),
        "D": (["main", "coverage"], "Success", 0),
        "E": (["main", "reminders"], "Incomplete", -2),  # before `since`
        "F": (["main"], None, 0),  # no event yet
    }
    for session_id, (screens, status, hours) in journeys.items():
        for screen in screens:
            hop(db, session_id, screen)
        if status:
            at = T0 + dt.timedelta(hours=hours)
            record_session_end(db, end(session_id, status), at=at)
    record_session_end(db, end("G", "Incomplete"), at=T0)  # dropped before any audited hop
    db.commit()
    assert dropoff_by_screen(db, since) == [("coverage", 2), ("payments", 1)]
    assert dropoff_by_screen(db, T0 + dt.timedelta(hours=1)) == []
    assert session_outcomes(db, since) == {"Success": 1, "Incomplete": 3, "Failed": 1}
    assert session_outcomes(db, T0 - dt.timedelta(hours=3))["Incomplete"] == 4


@pytest.mark.postgres
def test_concurrent_duplicates_store_one_event(session_factory: sessionmaker[Session]) -> None:
    barrier = threading.Barrier(4)
    results: list[bool] = []

    def deliver() -> None:
        with session_factory() as session:
            barrier.wait()
            results.append(record_session_end(session, end("RACE", "Incomplete")))
            session.commit()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
    with session_factory() as session:
        assert len(session.scalars(select(UssdSessionEvent)).all()) == 1
