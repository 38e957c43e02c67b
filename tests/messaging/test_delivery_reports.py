"""`POST /sms/africastalking/{delivery,inbound,optout}`: delivery reports move outbox messages
forward only, inbound SMS are acted on once, opt-outs stop reminders; malformed forms get a 400
with a reason (never 500); the callback token is required when configured."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Household, InboundSms, Mutual, OutboxMessage, OutboxStatus
from gateway.services.messaging import outbox
from tests.conftest import AppFactory
from tests.support.factories import make_household, make_mutual
from tests.support.messaging import NOW, PHONE, sent_message

DELIVERY, INBOUND, OPTOUT = (
    "/sms/africastalking/delivery",
    "/sms/africastalking/inbound",
    "/sms/africastalking/optout",
)

REPORT = {
    "id": "ATXid_out_1",
    "status": "Success",
    "phoneNumber": PHONE,
    "networkCode": "61302",
    "failureReason": "",
    "retryCount": "0",
}
SMS = {
    "from": PHONE,
    "to": "21212",
    "text": "ARRET",
    "date": "2026-03-10 10:00:00",
    "id": "ATXid_in_1",
    "linkId": "link-1",
    "networkCode": "61302",
}
OPT_OUT = {"senderId": "MUT", "phoneNumber": PHONE}


@pytest.fixture
def committed_mutual(mutual: Mutual, db: Session) -> Mutual:
    """Committed: the delivery reports arrive through the app, in sessions of their own."""
    db.commit()
    return mutual


@pytest.fixture
def household(db: Session, committed_mutual: Mutual) -> Household:
    household = make_household(db, committed_mutual, phone=PHONE, number="1001")
    db.commit()
    return household


def fresh(db: Session, model: type[OutboxMessage] | type[Household], row_id: int) -> object:
    """A row read in a transaction of its own (SQLite: never hold its lock)."""
    db.expire_all()
    row = db.get(model, row_id)
    db.commit()
    return row


def message(db: Session, message_id: int) -> OutboxMessage:
    row = fresh(db, OutboxMessage, message_id)
    assert isinstance(row, OutboxMessage)
    return row


def household_row(db: Session, household_id: int) -> Household:
    row = fresh(db, Household, household_id)
    assert isinstance(row, Household)
    return row


def all_outbox(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    rows = list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    db.commit()
    return rows


# --- delivery reports ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("Sent", "SENT"),
        ("Submitted", "SENT"),
        ("Buffered", "SENT"),
        ("Success", "DELIVERED"),
        ("Rejected", "REJECTED"),
        ("Failed", "FAILED"),
        ("AbsentSubscriber", "FAILED"),
        ("Expired", "EXPIRED"),
    ],
)
def test_a_delivery_report_moves_the_message(
    make_app: AppFactory, db: Session, committed_mutual: Mutual, status: str, final: str
) -> None:
    message_id = sent_message(db, committed_mutual)
    form = REPORT | {"status": status, "failureReason": "DeliveryFailure"}
    answer = make_app().test_client().post(DELIVERY, data=form)
    assert answer.status_code == 200
    row = message(db, message_id)
    assert row.status == final
    if final in ("FAILED", "REJECTED", "EXPIRED"):
        assert row.last_error == f"{status}: DeliveryFailure"
    else:
        assert row.last_error is None


def test_delivery_reports_are_idempotent_and_never_move_back(
    make_app: AppFactory, db: Session, committed_mutual: Mutual
) -> None:
    message_id = sent_message(db, committed_mutual)
    client = make_app().test_client()
    assert client.post(DELIVERY, data=REPORT).status_code == 200
    delivered = message(db, message_id)
    assert delivered.status == "DELIVERED"
    stamp = delivered.updated_at
    for late in ("Success", "Buffered", "Failed", "Sent"):
        assert client.post(DELIVERY, data=REPORT | {"status": late}).status_code == 200
    row = message(db, message_id)
    assert (row.status, row.updated_at, row.last_error) == ("DELIVERED", stamp, None)


def test_a_report_for_an_unknown_id_is_acknowledged_and_changes_nothing(
    make_app: AppFactory, db: Session, committed_mutual: Mutual
) -> None:
    message_id = sent_message(db, committed_mutual)
    answer = make_app().test_client().post(DELIVERY, data=REPORT | {"id": "ATXid_nobody"})
    assert answer.status_code == 200
    assert message(db, message_id).status == "SENT"


def test_a_report_settles_a_message_whose_send_outcome_was_unknown(
    db: Session, committed_mutual: Mutual
) -> None:
    message_id = sent_message(db, committed_mutual)
    row = message(db, message_id)
    row.status = OutboxStatus.SENDING  # the send timed out after acceptance
    db.commit()
    moved = outbox.apply_delivery_report(db, "ATXid_out_1", "Buffered", now=NOW)
    assert moved is not None and moved.status == "SENT"
    with pytest.raises(ValueError, match="unknown delivery status"):
        outbox.apply_delivery_report(db, "ATXid_out_1", "Lost", now=NOW)
    assert outbox.apply_delivery_report(db, "none", "Success", now=NOW) is None
    db.rollback()


# --- inbound SMS --------------------------------------------------------------------------


def test_inbound_arret_stops_reminders_and_is_acknowledged_once_when_delivered_three_times(
    make_app: AppFactory, db: Session, household: Household
) -> None:
    client = make_app().test_client()
    for _ in range(3):
        answer = client.post(INBOUND, data=SMS)
        assert answer.status_code == 200
    row = household_row(db, household.id)
    assert row.reminders_enabled is False and row.reminders_changed_at is not None
    (ack,) = all_outbox(db)
    assert (ack.template, ack.phone, ack.status) == ("optout_ack", PHONE, "QUEUED")
    db.expire_all()
    (inbound,) = db.scalars(select(InboundSms))
    assert (inbound.provider_id, inbound.link_id, inbound.network) == (
        "ATXid_in_1",
        "link-1",
        "61302",
    )
    db.commit()


def test_inbound_with_a_plus_lost_as_a_space_and_an_accented_keyword(
    make_app: AppFactory, db: Session, household: Household
) -> None:
    client = make_app().test_client()
    form = SMS | {"from": " 22670123412", "text": "arrêt"}
    assert client.post(INBOUND, data=form).status_code == 200
    assert household_row(db, household.id).reminders_enabled is False
    form = SMS | {"id": "ATXid_in_2", "text": "Reprendre"}
    assert client.post(INBOUND, data=form).status_code == 200
    assert household_row(db, household.id).reminders_enabled is True
    assert [m.template for m in all_outbox(db)] == ["optout_ack", "optin_ack"]


def test_inbound_unknown_text_gets_one_help_per_day(
    make_app: AppFactory, db: Session, household: Household
) -> None:
    client = make_app().test_client()
    for n in range(3):
        form = SMS | {"id": f"ATXid_u{n}", "text": "bonjour"}
        assert client.post(INBOUND, data=form).status_code == 200
    assert [m.template for m in all_outbox(db)] == ["help"]


# --- opt-out notifications ----------------------------------------------------------------


def test_optout_stops_reminders_idempotently(
    make_app: AppFactory, db: Session, household: Household
) -> None:
    client = make_app().test_client()
    for _ in range(2):
        answer = client.post(OPTOUT, data=OPT_OUT)
        assert answer.status_code == 200
    row = household_row(db, household.id)
    assert row.reminders_enabled is False
    assert all_outbox(db) == []


def test_optout_scoped_to_the_sender_ids_mutual(make_app: AppFactory, db: Session) -> None:
    mutual_a, mutual_b = make_mutual(db, code="MUTA"), make_mutual(db, code="MUTB")
    mutual_a.sms_sender_id, mutual_b.sms_sender_id = "MUTA", "MUTB"
    of_a = make_household(db, mutual_a, phone=PHONE)
    of_b = make_household(db, mutual_b, phone=PHONE)
    db.commit()
    form = {"senderId": "MUTB", "phoneNumber": PHONE}
    assert make_app().test_client().post(OPTOUT, data=form).status_code == 200
    assert household_row(db, of_a.id).reminders_enabled is True
    assert household_row(db, of_b.id).reminders_enabled is False


def test_inbound_stop_to_mutual_a_leaves_mutual_b_alone(make_app: AppFactory, db: Session) -> None:
    mutual_a, mutual_b = make_mutual(db, code="MUTA"), make_mutual(db, code="MUTB")
    mutual_a.service_codes, mutual_b.service_codes = ["21212"], ["31313"]
    of_a = make_household(db, mutual_a, phone=PHONE)
    of_b = make_household(db, mutual_b, phone=PHONE)
    db.commit()
    answer = make_app().test_client().post(INBOUND, data=SMS | {"to": "21212", "text": "STOP"})
    assert answer.status_code == 200
    assert household_row(db, of_a.id).reminders_enabled is False
    assert household_row(db, of_b.id).reminders_enabled is True
    assert [m.mutual_id for m in all_outbox(db)] == [mutual_a.id]


# --- malformed callbacks and protection ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "form", "reason"),
    [
        (DELIVERY, REPORT | {"id": ""}, "id is required"),
        (DELIVERY, REPORT | {"id": "x" * 129}, "id longer than 128"),
        (DELIVERY, REPORT | {"status": ""}, "status must be one of Sent, Submitted"),
        (DELIVERY, REPORT | {"status": "Delivered"}, "status must be one of"),
        (INBOUND, SMS | {"id": ""}, "id is required"),
        (INBOUND, SMS | {"from": ""}, "from is required"),
        (INBOUND, SMS | {"from": "hello"}, "from is not an international phone number"),
        (INBOUND, SMS | {"from": "+2261"}, "from is not an international phone number"),
        (INBOUND, SMS | {"to": ""}, "to is required"),
        (INBOUND, SMS | {"text": "a" * 2001}, "text longer than 2000"),
        (OPTOUT, {"senderId": "MUT"}, "phoneNumber is required"),
        (OPTOUT, {"phoneNumber": "abc"}, "phoneNumber is not an international phone number"),
    ],
)
def test_malformed_callbacks_get_400_with_a_reason(
    make_app: AppFactory, db: Session, url: str, form: dict[str, str], reason: str
) -> None:
    answer = make_app().test_client().post(url, data=form)
    assert answer.status_code == 400
    assert reason in answer.get_data(as_text=True)
    db.expire_all()
    assert list(db.scalars(select(InboundSms))) == []
    db.commit()


@pytest.mark.parametrize("url", [DELIVERY, INBOUND, OPTOUT])
def test_empty_posts_get_400_not_500(make_app: AppFactory, url: str) -> None:
    assert make_app().test_client().post(url, data={}).status_code == 400


@pytest.mark.parametrize(("url", "form"), [(DELIVERY, REPORT), (INBOUND, SMS), (OPTOUT, OPT_OUT)])
def test_the_token_is_required_when_configured(
    make_app: AppFactory, db: Session, household: Household, url: str, form: dict[str, str]
) -> None:
    client = make_app(GATEWAY_USSD_TOKEN="s3cret").test_client()
    assert client.post(url, data=form).status_code == 403
    assert client.post(f"{url}?token=wrong", data=form).status_code == 403
    assert household_row(db, household.id).reminders_enabled is True
    assert all_outbox(db) == []
    assert client.post(f"{url}?token=s3cret", data=form).status_code == 200
    if url != DELIVERY:
        assert household_row(db, household.id).reminders_enabled is False


def test_the_ip_allowlist_applies(make_app: AppFactory, household: Household) -> None:
    client = make_app(GATEWAY_ALLOWED_IPS="10.0.0.1").test_client()
    assert client.post(INBOUND, data=SMS).status_code == 403
    allowed = client.post(INBOUND, data=SMS, environ_overrides={"REMOTE_ADDR": "10.0.0.1"})
    assert allowed.status_code == 200
