"""Every Africa's Talking endpoint (hops, session ends, delivery reports, incoming SMS,
opt-outs) reads its form through the one reader: a missing field, an over-long one, a NUL
byte or a body that is not a UTF-8 form gets a 400 whose reason names the problem, and
nothing is stored: no audit row, no event, no inbound SMS, no outbox change, no opt-out, no
Redis write. The same forms, well formed, change something (so the check can fail)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from gateway.models import Household, InboundSms, OutboxMessage, UssdHop, UssdSessionEvent
from tests.conftest import AppFactory
from tests.support.factories import make_household, make_mutual
from tests.support.messaging import sent_message

PHONE = "+22670123412"
URLENCODED = "application/x-www-form-urlencoded"
HOP, EVENTS = "/ussd/africastalking", "/ussd/africastalking/events"
DELIVERY, INBOUND, OPTOUT = (
    "/sms/africastalking/delivery",
    "/sms/africastalking/inbound",
    "/sms/africastalking/optout",
)
FORMS = {
    HOP: {"sessionId": "S1", "serviceCode": "*144*7#", "phoneNumber": PHONE, "text": ""},
    EVENTS: {"sessionId": "ATUid_1", "phoneNumber": PHONE, "status": "Incomplete"},
    DELIVERY: {"id": "ATXid_out_1", "status": "Success"},
    INBOUND: {"from": PHONE, "to": "21212", "text": "ARRET", "id": "ATXid_in_1"},
    OPTOUT: {"senderId": "MUT", "phoneNumber": PHONE},
}


@pytest.fixture
def stored(db: Session) -> Session:
    """A household on PHONE and one SENT message: what a well-formed callback would change."""
    mutual = make_mutual(db)
    mutual.service_codes = ["21212"]
    make_household(db, mutual, phone=PHONE, number="1001")
    sent_message(db, mutual)
    db.commit()
    return db


def snapshot(db: Session, redis_client: redis.Redis[bytes]) -> tuple[object, ...]:
    """Everything an Africa's Talking callback may write, read in a transaction of its own."""
    db.expire_all()
    counts = tuple(
        db.scalar(select(func.count()).select_from(table))
        for table in (UssdHop, UssdSessionEvent, InboundSms, OutboxMessage)
    )
    statuses = tuple(db.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))
    consents = tuple(db.scalars(select(Household.reminders_enabled)))
    db.commit()
    return counts, statuses, consents, redis_client.dbsize()


CASES = [
    (HOP, {"sessionId": None}, "sessionId is required"),
    (HOP, {"networkCode": "6" * 17}, "networkCode longer than 16 characters"),
    (HOP, {"networkCode": "613\x0002"}, "networkCode contains a NUL byte"),
    (EVENTS, {"sessionId": None}, "sessionId is required"),
    (EVENTS, {"sessionId": "x" * 129}, "sessionId longer than 128 characters"),
    (EVENTS, {"input": "1*\x00"}, "input contains a NUL byte"),
    (DELIVERY, {"id": None}, "id is required"),
    (DELIVERY, {"id": "x" * 129}, "id longer than 128 characters"),
    (DELIVERY, {"failureReason": "Absent\x00"}, "failureReason contains a NUL byte"),
    (INBOUND, {"from": None}, "from is required"),
    (INBOUND, {"linkId": "x" * 129}, "linkId longer than 128 characters"),
    (INBOUND, {"text": "ARR\x00ET"}, "text contains a NUL byte"),
    (OPTOUT, {"phoneNumber": None}, "phoneNumber is required"),
    (OPTOUT, {"senderId": "x" * 33}, "senderId longer than 32 characters"),
    (OPTOUT, {"senderId": "MU\x00T"}, "senderId contains a NUL byte"),
    # issue 15: other control characters too (tab and line breaks stay: an SMS holds them)
    (EVENTS, {"errorMessage": "a\x1b[2Jb"}, "errorMessage contains a control character"),
    (DELIVERY, {"failureReason": "Absent\x7f"}, "failureReason contains a control character"),
    (INBOUND, {"text": "ARR\x08ET"}, "text contains a control character"),
    (HOP, {"networkCode": "613\x8502"}, "networkCode contains a control character"),
]


@pytest.mark.parametrize(("url", "change", "reason"), CASES)
def test_a_malformed_field_is_400_naming_it_and_nothing_is_stored(
    make_app: AppFactory,
    stored: Session,
    redis_client: redis.Redis[bytes],
    url: str,
    change: dict[str, str | None],
    reason: str,
) -> None:
    form = {k: v for k, v in (FORMS[url] | change).items() if v is not None}
    before = snapshot(stored, redis_client)
    answer = make_app().test_client().post(url, data=form)
    assert answer.status_code == 400
    assert answer.get_data(as_text=True).endswith(f": {reason}\n")
    assert snapshot(stored, redis_client) == before


# What Werkzeug cannot decode as a UTF-8 form, by how the provider's body would be built.
NOT_A_FORM: dict[str, tuple[str, Callable[[dict[str, str]], bytes]]] = {
    "a Latin-1 byte": (URLENCODED, lambda form: urlencode(form).encode() + b"&note=caf\xe9"),
    "UTF-16": (URLENCODED + "; charset=utf-16", lambda form: urlencode(form).encode("utf-16")),
    "JSON": ("application/json", lambda form: json.dumps(form).encode()),
}


@pytest.mark.parametrize("url", FORMS)
@pytest.mark.parametrize("kind", NOT_A_FORM)
def test_a_body_that_is_not_a_utf8_form_is_400_and_nothing_is_stored(
    make_app: AppFactory, stored: Session, redis_client: redis.Redis[bytes], url: str, kind: str
) -> None:
    """Werkzeug drops such a body without a word; the answer says so instead of naming a
    field that was in fact sent."""
    content_type, encode = NOT_A_FORM[kind]
    before = snapshot(stored, redis_client)
    client = make_app().test_client()
    answer = client.post(url, data=encode(FORMS[url]), content_type=content_type)
    assert answer.status_code == 400
    assert "the body is not a UTF-8 url-encoded form" in answer.get_data(as_text=True)
    assert snapshot(stored, redis_client) == before


@pytest.mark.parametrize("url", FORMS)
def test_the_same_forms_well_formed_are_acted_on(
    make_app: AppFactory, stored: Session, redis_client: redis.Redis[bytes], url: str
) -> None:
    before = snapshot(stored, redis_client)
    answer = make_app().test_client().post(url, data=FORMS[url])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert snapshot(stored, redis_client) != before


@pytest.mark.parametrize("url", [DELIVERY, INBOUND, OPTOUT])
def test_a_database_failure_is_503_try_again_and_nothing_is_stored(
    make_app: AppFactory,
    stored: Session,
    redis_client: redis.Redis[bytes],
    url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database failing mid-callback: the provider is told to try again (503, so it
    redelivers), and the callback's work is rolled back, not half-kept."""

    def lost(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("UPDATE", {}, Exception("connection lost"))

    app = make_app()
    before = snapshot(stored, redis_client)
    monkeypatch.setattr(Session, "commit", lost)
    answer = app.test_client().post(url, data=FORMS[url])
    monkeypatch.undo()
    assert answer.status_code == 503
    assert "database unavailable, try again" in answer.get_data(as_text=True)
    assert snapshot(stored, redis_client) == before


@pytest.mark.parametrize("url", [DELIVERY, INBOUND, OPTOUT, EVENTS])
@pytest.mark.parametrize("error", [DataError, IntegrityError])
def test_a_data_error_is_400_never_database_unavailable(
    make_app: AppFactory,
    stored: Session,
    redis_client: redis.Redis[bytes],
    url: str,
    error: type[DataError] | type[IntegrityError],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """issue 15: a value the database refuses is the request's fault: a redelivery would fail
    the same way, so it is a 400 (logged), not a 503 "database unavailable"."""

    def refused(*_args: object, **_kwargs: object) -> None:
        raise error("INSERT", {}, Exception("value too long for type character varying(16)"))

    app = make_app()
    before = snapshot(stored, redis_client)
    monkeypatch.setattr(Session, "commit", refused)
    answer = app.test_client().post(url, data=FORMS[url])
    monkeypatch.undo()
    assert answer.status_code == 400
    assert "cannot be stored" in answer.get_data(as_text=True)
    assert snapshot(stored, redis_client) == before


def test_tab_and_line_breaks_in_an_sms_are_kept(
    make_app: AppFactory, stored: Session, redis_client: redis.Redis[bytes]
) -> None:
    form = {**FORMS[INBOUND], "text": "merci\r\n\tbien"}
    assert make_app().test_client().post(INBOUND, data=form).status_code == 200
    stored.expire_all()
    assert stored.scalars(select(InboundSms.text)).one() == "merci\r\n\tbien"
