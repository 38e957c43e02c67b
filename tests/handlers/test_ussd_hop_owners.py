"""The hop audit's owners (issue 16): every audited hop and session end carries the mutual the
caller was identified for and the keyed hash of the full phone, the same hash the session
store keys the phone with, so the console finds a member's calls and a mutual's sessions."""

from __future__ import annotations

from dataclasses import asdict

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.lib.phones import phone_key
from gateway.menus.engine.store import Frame, SessionState, SessionStore
from gateway.menus.hop import session_mutual
from gateway.models import UssdHop, UssdSessionEvent
from gateway.services.agents.registry import add_agent
from tests.support import dialogue
from tests.support.dialogue import SERVICE_CODE, Phone
from tests.support.factories import make_household, make_mutual

MEMBER = "+22670123412"
AGENT = "+22670000009"
VISITOR = "+22670999999"

ussd_app, client = dialogue.ussd_app, dialogue.client


def hops(session_factory: sessionmaker[Session]) -> list[tuple[str, int | None, str | None]]:
    with session_factory() as session:
        rows = session.scalars(select(UssdHop).order_by(UssdHop.id)).all()
        return [(r.screen, r.mutual_id, r.phone_key) for r in rows]


def test_a_members_hops_carry_their_mutual_and_phone_key(
    db: Session, client: FlaskClient, ussd_app: Flask, session_factory: sessionmaker[Session]
) -> None:
    other = make_mutual(db, "OTHER")
    mutual = make_mutual(db, "OWN")
    mutual.service_codes = [SERVICE_CODE]
    make_household(db, mutual, phone=MEMBER)
    db.commit()
    mutual_id, other_id = mutual.id, other.id
    phone = Phone(client, MEMBER)
    phone.walk("1")
    phone.resend()  # a duplicate: the stored reply, audited with the same owners
    secret = ussd_app.extensions["gateway"].settings.secret_key
    key = phone_key(secret, MEMBER)
    assert key == SessionStore(ussd_app.extensions["gateway"].redis, secret).phone_hash(MEMBER)
    rows = hops(session_factory)
    assert len(rows) == 3
    assert {(m, k) for _screen, m, k in rows} == {(mutual_id, key)}
    assert other_id != mutual_id


def test_an_agent_and_a_visitor_are_audited_under_their_mutual(
    db: Session, client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    make_mutual(db, "FIRST")
    mutual = make_mutual(db, "CODED")
    mutual.service_codes = [SERVICE_CODE]
    add_agent(db, mutual, phone=AGENT, name="Ali", role="facility", pin="2580")
    db.commit()
    mutual_id = mutual.id
    Phone(client, AGENT).dial()
    Phone(client, VISITOR).dial()
    assert [(screen, m) for screen, m, _k in hops(session_factory)] == [
        ("agent_pin", mutual_id),
        ("visitor_menu", mutual_id),
    ]


def test_a_session_end_takes_its_hops_mutual_and_the_phone_key(
    db: Session, client: FlaskClient, ussd_app: Flask, session_factory: sessionmaker[Session]
) -> None:
    mutual = make_mutual(db)
    make_household(db, mutual, phone=MEMBER)
    db.commit()
    mutual_id = mutual.id
    phone = Phone(client, MEMBER)
    phone.dial()
    form = {
        "sessionId": phone.session_id,
        "serviceCode": SERVICE_CODE,
        "phoneNumber": MEMBER,
        "networkCode": "61302",
        "status": "Incomplete",
    }
    assert client.post("/ussd/africastalking/events", data=form).status_code == 200
    secret = ussd_app.extensions["gateway"].settings.secret_key
    with session_factory() as session:
        event = session.scalars(select(UssdSessionEvent)).one()
        assert (event.mutual_id, event.phone_key) == (mutual_id, phone_key(secret, MEMBER))
        last = session.scalars(select(UssdHop.screen).order_by(UssdHop.id.desc())).first()
        assert last and event.last_screen == last  # where the member left


def test_a_resume_offer_keeps_the_mutual_of_the_screen_it_restarts() -> None:
    restart = Frame("member_menu", data={"kind": "member", "mutual_id": 7})
    resume = Frame(
        "resume", data={"kind": "resume", "restart": asdict(restart), "resume": asdict(restart)}
    )
    assert session_mutual(SessionState(frame=resume, origin=resume)) == 7
    assert session_mutual(SessionState(frame=restart, origin=restart)) == 7
    unknown = Frame("service_unavailable", data={})
    assert session_mutual(SessionState(frame=unknown, origin=unknown)) is None
