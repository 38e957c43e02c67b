"""Incoming SMS keywords (messaging.md, D18): consent changes, replies queued once per
provider message, daily help for unknown text, the D12 summary by SMS, and mutual isolation."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Alert, Household, InboundSms, Mutual, OutboxMessage
from gateway.services.messaging import inbound
from gateway.services.messaging.inbound import Inbound, handle_inbound, parse_keyword
from gateway.services.mutuals import load_mutual
from tests.support.factories import make_household, make_mutual

NOW = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
PHONE = "+22670123412"
OTHER = "+22676000001"


def sms(text: str, sid: str = "ATXid_1", phone: str = PHONE, to: str = "21212") -> Inbound:
    return Inbound(provider="africastalking", provider_id=sid, from_phone=phone, to=to, text=text)


def outbox(db: Session, phone: str = PHONE) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.phone == phone)
    return list(db.scalars(query.order_by(OutboxMessage.id)))


@pytest.fixture
def mutual_with_contact(mutual: Mutual, db: Session) -> Mutual:
    """The replies name the mutual's contact number."""
    mutual.contact = "+226 70 00 00 00"
    db.flush()
    return mutual


@pytest.fixture
def household(db: Session, mutual_with_contact: Mutual) -> Household:
    return make_household(db, mutual_with_contact, phone=PHONE, number="1001")


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("STOP", "STOP"),
        ("Stop", "STOP"),
        ("stop.", "STOP"),
        ("ARRET", "STOP"),
        ("arrêt", "STOP"),
        ("  Arrêt svp", "STOP"),
        ("ARRÊT", "STOP"),
        ("START", "START"),
        ("reprendre", "START"),
        ("AIDE", "HELP"),
        ("help!", "HELP"),
        ("SOLDE 1001", "STATUS"),
        ("statut", "STATUS"),
        ("Status", "STATUS"),
        ("bonjour", None),
        ("STOPPER", None),
        ("merci stop", None),
        ("", None),
        ("   ", None),
    ],
)
def test_keywords_first_word_without_case_or_accents(text: str, keyword: str | None) -> None:
    assert parse_keyword(text) == keyword


def test_arret_stops_reminders_and_is_acknowledged_once_when_delivered_three_times(
    db: Session, household: Household
) -> None:
    first = handle_inbound(db, sms("ARRET"), now=NOW)
    assert first.new and first.keyword == "STOP" and first.households_changed == 1
    for _ in range(2):
        again = handle_inbound(db, sms("ARRET"), now=NOW + dt.timedelta(hours=1))
        assert not again.new and again.replies == []
    assert household.reminders_enabled is False
    assert household.reminders_changed_at == NOW
    (ack,) = outbox(db)
    assert (ack.template, ack.status, ack.household_id) == ("optout_ack", "QUEUED", household.id)
    assert "REPRENDRE" in ack.text and ack.language == "fr"
    rows = list(db.scalars(select(InboundSms)))
    assert len(rows) == 1
    assert (rows[0].keyword, rows[0].handled, rows[0].from_phone) == ("STOP", True, PHONE)


def test_stop_covers_every_household_of_the_phone_with_one_ack(
    db: Session, mutual_with_contact: Mutual, household: Household
) -> None:
    second = make_household(db, mutual_with_contact, phone=PHONE, number="1002")
    result = handle_inbound(db, sms("Stop"), now=NOW)
    assert result.households_changed == 2
    assert not household.reminders_enabled and not second.reminders_enabled
    assert [m.template for m in outbox(db)] == ["optout_ack"]


def test_reprendre_turns_reminders_back_on(db: Session, household: Household) -> None:
    handle_inbound(db, sms("arrêt", sid="A1"), now=NOW)
    later = NOW + dt.timedelta(days=2)
    result = handle_inbound(db, sms("REPRENDRE", sid="A2"), now=later)
    assert result.keyword == "START" and result.households_changed == 1
    assert household.reminders_enabled is True and household.reminders_changed_at == later
    assert [m.template for m in outbox(db)] == ["optout_ack", "optin_ack"]
    assert "ARRET" in outbox(db)[1].text


def test_a_second_stop_changes_nothing_but_is_acknowledged(
    db: Session, household: Household
) -> None:
    handle_inbound(db, sms("STOP", sid="A1"), now=NOW)
    result = handle_inbound(db, sms("STOP", sid="A2"), now=NOW + dt.timedelta(hours=3))
    assert result.households_changed == 0
    assert household.reminders_changed_at == NOW
    assert [m.template for m in outbox(db)] == ["optout_ack", "optout_ack"]


def test_aide_answers_the_help_text_in_the_household_language(
    db: Session, household: Household
) -> None:
    household.language = "en"
    handle_inbound(db, sms("AIDE"), now=NOW)
    (reply,) = outbox(db)
    assert reply.template == "help" and reply.language == "en"
    assert reply.text == (
        "MUT: STATUT = your cover, STOP = no reminders, START = reminders back. "
        "Contact: +226 70 00 00 00"
    )


def test_solde_answers_the_household_status(db: Session, household: Household) -> None:
    result = handle_inbound(db, sms("SOLDE"), now=NOW)
    assert result.keyword == "STATUS"
    (reply,) = outbox(db)
    assert reply.template == "status"
    assert reply.text == "MUT: menage 1001: PAS A JOUR. Cotisation 2027: 6 000 FCFA."


def test_solde_answers_one_message_per_household(
    db: Session, mutual_with_contact: Mutual, household: Household
) -> None:
    make_household(db, mutual_with_contact, phone=PHONE, number="1002", members=2)
    handle_inbound(db, sms("statut"), now=NOW)
    texts = [m.text for m in outbox(db)]
    assert len(texts) == 2
    assert "menage 1001" in texts[0] and "6 000 FCFA" in texts[0]
    assert "menage 1002" in texts[1] and "12 000 FCFA" in texts[1]
    handle_inbound(db, sms("statut"), now=NOW)  # redelivered: nothing more
    assert len(outbox(db)) == 2


def test_unknown_text_gets_one_help_per_phone_per_day(db: Session, household: Household) -> None:
    for n in range(3):
        result = handle_inbound(db, sms(f"bonjour {n}", sid=f"U{n}"), now=NOW)
        assert result.keyword is None
    assert [m.template for m in outbox(db)] == ["help"]
    handle_inbound(db, sms("bonjour", sid="U9"), now=NOW + dt.timedelta(days=1))
    assert [m.template for m in outbox(db)] == ["help", "help"]
    rows = list(db.scalars(select(InboundSms).order_by(InboundSms.id)))
    assert [r.handled for r in rows] == [True, False, False, True]


def test_unknown_phone_gets_help_and_nothing_changes(db: Session, household: Household) -> None:
    for n, text in enumerate(["STOP", "REPRENDRE", "SOLDE"]):
        result = handle_inbound(db, sms(text, sid=f"X{n}", phone=OTHER), now=NOW)
        assert result.households_changed == 0
    assert household.reminders_enabled is True and household.reminders_changed_at is None
    assert [m.template for m in outbox(db, OTHER)] == ["help"]
    assert outbox(db) == []


def test_a_stop_to_mutual_a_never_changes_mutual_b(db: Session) -> None:
    mutual_a = make_mutual(db, code="MUTA")
    mutual_b = make_mutual(db, code="MUTB")
    mutual_a.sms_sender_id, mutual_b.sms_sender_id = "MUTA", "MUTB"
    mutual_b.service_codes = ["*144*7#", "21212"]
    db.flush()
    of_a = make_household(db, mutual_a, phone=PHONE)
    of_b = make_household(db, mutual_b, phone=PHONE)
    result = handle_inbound(db, sms("STOP", sid="S1", to="muta"), now=NOW)
    assert result.households_changed == 1
    assert of_a.reminders_enabled is False and of_b.reminders_enabled is True
    assert [m.mutual_id for m in outbox(db)] == [mutual_a.id]
    handle_inbound(db, sms("SOLDE", sid="S2", to="21212"), now=NOW)  # B's short code
    assert [m.mutual_id for m in outbox(db)] == [mutual_a.id, mutual_b.id]
    assert outbox(db)[-1].household_id == of_b.id


def test_a_stop_to_an_unknown_number_acts_in_every_mutual_of_the_phone(db: Session) -> None:
    mutual_a = make_mutual(db, code="MUTA")
    mutual_b = make_mutual(db, code="MUTB")
    of_a = make_household(db, mutual_a, phone=PHONE)
    of_b = make_household(db, mutual_b, phone=PHONE)
    handle_inbound(db, sms("STOP", to="99999"), now=NOW)
    assert not of_a.reminders_enabled and not of_b.reminders_enabled
    assert sorted(m.mutual_id for m in outbox(db)) == [mutual_a.id, mutual_b.id]


def test_apply_optout_is_idempotent_and_scoped_by_sender_id(db: Session) -> None:
    mutual_a = make_mutual(db, code="MUTA")
    mutual_b = make_mutual(db, code="MUTB")
    mutual_a.sms_sender_id = "MUTA"
    db.flush()
    of_a = make_household(db, mutual_a, phone=PHONE)
    of_b = make_household(db, mutual_b, phone=PHONE)
    assert inbound.apply_optout(db, PHONE, now=NOW, sender_id="MUTA") == 1
    assert inbound.apply_optout(db, PHONE, now=NOW, sender_id="MUTA") == 0
    assert not of_a.reminders_enabled and of_b.reminders_enabled
    assert inbound.apply_optout(db, PHONE, now=NOW) == 1
    assert not of_b.reminders_enabled
    assert inbound.apply_optout(db, OTHER, now=NOW) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_help_reply_that_cannot_be_queued_is_logged_and_alerted(
    db: Session, household: Household, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15 (8): a help text over one segment was dropped without a word."""
    household.mutual.contact = "Mutuelle de Koudougou: 70 00 00 09, lundi-vendredi 8h-17h"
    with caplog.at_level(logging.ERROR, logger="gateway.services.messaging.inbound"):
        handle_inbound(db, sms("AIDE"), now=NOW)
        handle_inbound(db, sms("AIDE", sid="ATXid_2"), now=NOW)
    assert outbox(db) == []
    assert "sms reply help not queued" in caplog.text and PHONE not in caplog.text
    (alert,) = db.scalars(select(Alert).where(Alert.kind == "sms_reply_unsent"))
    assert alert.subject == "MUT:help" and alert.mutual_id == household.mutual_id
    assert "over one segment" in alert.detail


def test_the_demo_mutual_answers_aide(db: Session) -> None:
    """The demo's own contact fits the help SMS in each of its languages (issue 15)."""
    demo = load_mutual(db, Path("gateway/demo/demo.toml"))
    make_household(db, demo, phone=PHONE, number="1001")
    for sid, lang in (("ATXid_fr", "fr"), ("ATXid_en", "en")):
        db.scalars(select(Household)).one().language = lang
        handle_inbound(db, sms("AIDE", sid=sid), now=NOW)
    assert [(m.template, m.language) for m in outbox(db)] == [("help", "fr"), ("help", "en")]
