"""`POST /ussd/africastalking/events`: stored once with masking, 400 with a reason on malformed
notifications (never 500), token and IP protection, and the engine told about the end."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.handlers import ussd_events
from gateway.models import UssdSessionEvent
from tests.conftest import AppFactory
from tests.support.factories import make_household, make_mutual

URL = "/ussd/africastalking/events"
PIN = "2580"

EVENT = {
    "sessionId": "ATUid_0001",
    "serviceCode": "*144*7#",
    "phoneNumber": "+22670123412",
    "networkCode": "61302",
    "status": "Incomplete",
    "date": "2026-03-01 09:15:02.123",
    "cost": "XOF 0.00",
    "durationInMillis": "45210",
    "hopsCount": "4",
    "input": f"2*{PIN}*1",
    "lastAppResponse": "CON Numero du beneficiaire:",
    "errorMessage": "",
}


@pytest.fixture
def ended(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Calls of the engine's note_session_end, the real one replaced by a recorder."""
    calls: list[tuple[str, str]] = []

    def note(_redis: object, phone: str, status: str, _secret: str = "") -> None:
        calls.append((phone, status))

    monkeypatch.setattr(ussd_events, "note_session_end", note)
    return calls


def events(db: Session) -> list[UssdSessionEvent]:
    """The stored events, read in a transaction of their own (SQLite: never hold its lock)."""
    db.expire_all()
    rows = list(db.scalars(select(UssdSessionEvent).order_by(UssdSessionEvent.id)))
    db.commit()
    return rows


def test_an_event_is_stored_masked_and_the_engine_told(
    make_app: AppFactory, db: Session, ended: list[tuple[str, str]]
) -> None:
    answer = make_app().test_client().post(URL, data=EVENT)
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    (row,) = events(db)
    assert (row.provider, row.session_id) == ("africastalking", "ATUid_0001")
    assert row.status == "Incomplete"
    assert (row.phone_masked, row.network, row.service_code) == ("+22670****12", "61302", "*144*7#")
    assert (row.duration_ms, row.hops_count, row.cost) == (45210, 4, "XOF 0.00")
    assert row.ended_at == dt.datetime(2026, 3, 1, 9, 15, 2, 123000, tzinfo=dt.UTC)
    assert row.input_masked == "2*xxxx*1"
    assert row.last_app_response == "CON Numero du beneficiaire:" and row.error_message is None
    assert PIN not in " ".join(str(v) for v in vars(row).values())
    assert ended == [("+22670123412", "Incomplete")]


def test_a_duplicate_changes_nothing_and_answers_200(
    make_app: AppFactory, db: Session, ended: list[tuple[str, str]]
) -> None:
    client = make_app().test_client()
    assert client.post(URL, data=EVENT).status_code == 200
    again = client.post(URL, data=EVENT | {"status": "Success", "hopsCount": "9"})
    assert again.status_code == 200
    (row,) = events(db)
    assert (row.status, row.hops_count) == ("Incomplete", 4)
    assert ended == [("+22670123412", "Incomplete")]


def test_minimal_event_with_a_plus_lost_as_a_space(
    make_app: AppFactory, db: Session, ended: list[tuple[str, str]]
) -> None:
    minimal = {"sessionId": "S2", "status": "Success", "phoneNumber": " 22670123412"}
    assert make_app().test_client().post(URL, data=minimal).status_code == 200
    (row,) = events(db)
    assert (row.duration_ms, row.hops_count, row.ended_at, row.cost) == (None, None, None, None)
    assert row.phone_masked == "+22670****12" and row.input_masked == ""
    assert ended == [("+22670123412", "Success")]


def test_an_unreadable_date_is_dropped_not_the_event(make_app: AppFactory, db: Session) -> None:
    answer = make_app().test_client().post(URL, data=EVENT | {"date": "yesterday"})
    assert answer.status_code == 200
    assert events(db)[0].ended_at is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sessionId": ""}, "sessionId is required"),
        ({"sessionId": "x" * 129}, "sessionId longer than 128"),
        ({"status": ""}, "status must be one of Success, Incomplete, Failed"),
        ({"status": "Timeout"}, "status must be one of"),
        ({"durationInMillis": "12.5"}, "durationInMillis must be a whole number"),
        ({"durationInMillis": "-1"}, "durationInMillis must be a whole number"),
        ({"hopsCount": "four"}, "hopsCount must be a whole number"),
        ({"hopsCount": "99999999999"}, "hopsCount must be a whole number"),
        ({"hopsCount": "٣"}, "hopsCount must be a whole number"),
    ],
)
def test_malformed_events_are_400_with_a_reason(
    make_app: AppFactory, db: Session, change: dict[str, str], reason: str
) -> None:
    answer = make_app().test_client().post(URL, data=EVENT | change)
    assert answer.status_code == 400
    assert reason in answer.get_data(as_text=True)
    assert events(db) == []


def test_not_a_form_is_400_and_get_is_405(make_app: AppFactory) -> None:
    client = make_app().test_client()
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 400
    assert client.get(URL).status_code == 405


def test_token_is_required_when_configured(make_app: AppFactory, db: Session) -> None:
    client = make_app(GATEWAY_USSD_TOKEN="s3cret").test_client()
    assert client.post(URL, data=EVENT).status_code == 403
    wrong = client.post(f"{URL}?token=guess", data=EVENT)
    assert wrong.status_code == 403 and "token" in wrong.get_data(as_text=True)
    assert events(db) == []
    assert client.post(f"{URL}?token=s3cret", data=EVENT).status_code == 200
    assert len(events(db)) == 1


def test_ip_allowlist(make_app: AppFactory, db: Session) -> None:
    client = make_app(GATEWAY_ALLOWED_IPS="10.0.0.7, 10.0.0.8").test_client()
    refused = client.post(URL, data=EVENT)  # the test client calls from 127.0.0.1
    assert refused.status_code == 403 and "address" in refused.get_data(as_text=True)
    allowed = client.post(URL, data=EVENT, environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert allowed.status_code == 200
    assert len(events(db)) == 1


def test_redis_down_still_answers_200(
    make_app: AppFactory, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_redis: object, _phone: str, _status: str, _secret: str = "") -> None:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(ussd_events, "note_session_end", broken)
    assert make_app().test_client().post(URL, data=EVENT).status_code == 200
    assert len(events(db)) == 1


def test_database_down_is_503_with_a_reason(make_app: AppFactory) -> None:
    app = make_app(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    answer = app.test_client().post(URL, data=EVENT)
    assert answer.status_code == 503
    assert "database unavailable" in answer.get_data(as_text=True)


def test_a_dropped_session_is_offered_for_resume(make_app: AppFactory, db: Session) -> None:
    """Hop endpoint, then this one, then the next dial: the engine offers to continue."""
    make_household(db, make_mutual(db, code="RES"), members=2, phone="+22670123412")
    db.commit()
    client = make_app().test_client()
    if "ussd.africastalking" not in client.application.view_functions:
        pytest.skip("POST /ussd/africastalking is not in this checkout yet")
    hop = {"serviceCode": "*144*7#", "phoneNumber": "+22670123412", "networkCode": "61302"}
    for text in ("", "1"):  # into the coverage screen
        answer = client.post("/ussd/africastalking", data=hop | {"sessionId": "D1", "text": text})
        assert answer.status_code == 200
    dropped = hop | {"sessionId": "D1", "status": "Incomplete", "input": "1"}
    assert client.post(URL, data=dropped).status_code == 200
    again = client.post("/ussd/africastalking", data=hop | {"sessionId": "D2", "text": ""})
    assert again.get_data(as_text=True).startswith("CON ")
    assert "Continuer" in again.get_data(as_text=True)
