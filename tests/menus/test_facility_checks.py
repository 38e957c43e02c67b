"""Facility checks (D26, issue 18): every beneficiary check by facility staff on USSD is
recorded once (facility, agent, card number, day, status answered), a duplicated or replayed
hop adds nothing; `gateway checks` lists them per facility and day."""

from __future__ import annotations

import datetime as dt
import json

import redis
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.clock import FixedClock
from gateway.models import FacilityCheck, Section
from gateway.services.agents.registry import add_agent
from gateway.services.coverage.allocation import receive_payment
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household, make_mutual

AGENT_PHONE = "+22670000002"
PIN = "1470"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)

ussd_app, client = dialogue.ussd_app, dialogue.client


def setup(db: Session, clock: FixedClock) -> tuple[str, str]:
    """A mutual with a covered member and a facility agent in section Reo; (code, number)."""
    mutual = make_mutual(db)
    section = Section(mutual=mutual, name="Reo")
    db.add(section)
    household = make_household(db, mutual, members=1)
    receive_payment(
        db,
        household=household,
        amount=6000,
        paid_on=dt.date(2026, 1, 10),
        channel="cash",
        reference="P1",
    )
    db.flush()
    staff = add_agent(db, mutual, phone=AGENT_PHONE, name="Infirmier Reo", role="facility", pin=PIN)
    staff.section_id = section.id
    db.commit()
    clock.at = T0
    return mutual.code, household.beneficiaries[0].number


def checks(session_factory: sessionmaker[Session]) -> list[tuple[str | None, str, str]]:
    with session_factory() as session:
        rows = session.scalars(select(FacilityCheck).order_by(FacilityCheck.id))
        return [(r.facility, r.card_number, r.status) for r in rows]


def test_each_check_is_recorded_once(
    db: Session,
    client: FlaskClient,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    redis_client: redis.Redis[bytes],
) -> None:
    """D26: a check, its duplicated hop and a replay after Redis lost the session: one row;
    an unknown card is recorded with UNKNOWN; a second card in the session is a second row."""
    _code, number = setup(db, clock)
    phone = Phone(client, AGENT_PHONE)
    reply = phone.walk(PIN, "1", number)
    assert "COUVERT jusqu'au 31/12/2026" in reply.lines
    assert phone.resend().text == reply.text
    for key in redis_client.keys("ussd:*"):
        redis_client.delete(key)
    assert phone.resend().text == reply.text
    assert checks(session_factory) == [("Reo", number, "COVERED")]
    phone.send("1")
    phone.send("99999")
    assert checks(session_factory)[1:] == [("Reo", "99999", "UNKNOWN")]


def test_a_visitor_check_is_not_a_facility_check(
    db: Session, client: FlaskClient, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """A phone that is not an agent's checks a card: D13 answered, nothing recorded (D26
    records checks by facility staff)."""
    _code, number = setup(db, clock)
    reply = Phone(client, "+22665000000").walk("1", number)
    assert reply.text == f"{number}: COUVERT jusqu'au 31/12/2026"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FacilityCheck)) == 0


def test_checks_command_lists_per_facility_and_day(
    db: Session, client: FlaskClient, clock: FixedClock, database_url: str
) -> None:
    """`gateway checks --mutual CODE [--facility F] [--day D] [--json]` (D26)."""
    code, number = setup(db, clock)
    Phone(client, AGENT_PHONE).walk(PIN, "1", number)
    db.rollback()
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["checks", "--mutual", code, *args], env=env)
        return result.exit_code, result.output

    status, out = run("--json")
    assert status == 0, out
    [row] = json.loads(out)
    assert {k: row[k] for k in ("facility", "agent", "card_number", "day", "status")} == {
        "facility": "Reo",
        "agent": "Infirmier Reo",
        "card_number": number,
        "day": "2026-06-01",
        "status": "COVERED",
    }
    assert json.loads(run("--facility", "Other", "--json")[1]) == []
    assert json.loads(run("--day", "2026-06-02", "--json")[1]) == []
    status, out = run("--facility", "Reo", "--day", "2026-06-01")
    assert status == 0 and "Infirmier Reo" in out and "1 check(s)" in out
    status, out = run("--day", "June")
    assert status == 1 and "YYYY-MM-DD" in out
    status, out = CliRunner().invoke(main, ["checks", "--mutual", "NOPE"], env=env).exit_code, ""
    assert status == 1
