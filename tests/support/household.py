"""A household's story for the console's members, household and USSD pages (issue 16): a
USSD session (hops and its end, as the hop and the events handler record them), an SMS with
its delivery report, a mobile money intent with its provider event, the payment and its
ledger postings, and a cash collection with its receipt code."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gateway.lib.phones import phone_key
from gateway.models import (
    Household,
    IntentState,
    Mutual,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentEvent,
    PaymentIntent,
)
from gateway.services.agents.cash import collect_cash
from gateway.services.agents.registry import add_agent
from gateway.services.coverage import receive_payment
from gateway.services.ussd_audit import SessionEnd, record_hop, record_session_end
from gateway.settings import DEV_SECRET_KEY
from tests.support.console import NOW
from tests.support.factories import make_household

SECRET = DEV_SECRET_KEY  # the test apps' secret key (GATEWAY_ENV=test keeps the default)


@dataclass(frozen=True)
class Story:
    household: Household
    phone: str
    session_id: str
    receipt_code: str


def ussd_session(
    db: Session,
    mutual: Mutual,
    phone: str,
    session_id: str,
    at: dt.datetime,
    screens: tuple[str, ...] = ("member_menu", "member_pay"),
    status: str | None = "Incomplete",
) -> None:
    """Hops one minute apart from `at`, then the session's end (unless `status` is None)."""
    key = phone_key(SECRET, phone)
    for i, screen in enumerate(screens):
        record_hop(
            db,
            provider="africastalking",
            session_id=session_id,
            phone=phone,
            network="61302",
            service_code="*144*7#",
            screen=screen,
            user_input="" if i == 0 else "2",
            reply=f"CON {screen}",
            latency_ms=20,
            at=at + dt.timedelta(minutes=i),
            mutual_id=mutual.id,
            phone_key=key,
        )
    db.flush()
    if status is not None:
        end = SessionEnd("africastalking", session_id, phone, "61302", "*144*7#", status)
        record_session_end(db, end, at=at + dt.timedelta(minutes=len(screens)), phone_key=key)


def delivered_sms(
    db: Session, mutual: Mutual, household: Household, phone: str, at: dt.datetime
) -> OutboxMessage:
    sms = OutboxMessage(
        mutual_id=mutual.id,
        household_id=household.id,
        phone=phone,
        template="receipt",
        language="fr",
        text="Recu 2000 XOF",
        reason="receipt",
        status=OutboxStatus.DELIVERED,
        provider="sandbox",
        provider_message_id=f"SB-{household.id}",
        attempts=1,
        created_at=at,
        sent_at=at + dt.timedelta(seconds=5),
        updated_at=at + dt.timedelta(seconds=30),
    )
    db.add(sms)
    db.flush()
    return sms


def paid_intent(
    db: Session, mutual: Mutual, household: Household, phone: str, at: dt.datetime
) -> PaymentIntent:
    """A succeeded intent with its provider event and its payment (posted by the service)."""
    reference = f"ref-{household.id}-{at.timestamp():.0f}"
    payment, _ = receive_payment(
        db,
        household=household,
        amount=2000,
        paid_on=at.date(),
        channel="mobile",
        reference=reference,
        now=at,
    )
    payment.created_at = at  # the row's default is the wall clock
    intent = PaymentIntent(
        mutual_id=mutual.id,
        household_id=household.id,
        reference=reference,
        provider="sandbox",
        msisdn=phone,
        amount=2000,
        state=IntentState.SUCCEEDED,
        payment_id=payment.id,
        expires_at=at + dt.timedelta(minutes=30),
        created_at=at,
        updated_at=at,
        completed_at=at + dt.timedelta(minutes=1),
    )
    db.add(intent)
    db.flush()
    db.add(
        PaymentEvent(
            provider="sandbox",
            event_key=f"evt-{reference}",
            source="callback",
            intent_id=intent.id,
            reference=reference,
            state="SUCCESSFUL",
            amount=2000,
            verified=True,
            outcome="applied",
            received_at=at + dt.timedelta(minutes=1),
        )
    )
    db.flush()
    return intent


def household_story(
    db: Session, mutual: Mutual, phone: str, *, number: str, name: str, section_id: int | None
) -> Story:
    """The household, then one hour of its life before NOW: a session, a payment, an SMS
    and a cash collection (each a few minutes apart, newest last)."""
    household = make_household(db, mutual, members=2, phone=phone, number=number)
    household.section_id = section_id
    household.beneficiaries[0].full_name = name
    start = NOW - dt.timedelta(hours=1)
    session_id = f"ATUid_{number}"
    ussd_session(db, mutual, phone, session_id, start)
    paid_intent(db, mutual, household, phone, start + dt.timedelta(minutes=10))
    delivered_sms(db, mutual, household, phone, start + dt.timedelta(minutes=12))
    agent = add_agent(
        db, mutual, phone=f"+226700{number[-5:]}", name="Ali", role="collector", pin="2580"
    )
    agent.section_id = section_id
    collected = collect_cash(
        db,
        agent=agent,
        household=household,
        amount=1000,
        request_key=f"cash-{number}",
        now=start + dt.timedelta(minutes=20),
    )
    collected_at = collected.collection.collected_at
    db.get_one(Payment, collected.collection.payment_id).created_at = collected_at
    if collected.receipt is not None:  # the receipt SMS, queued now on the wall clock
        collected.receipt.created_at = collected_at + dt.timedelta(seconds=1)
    db.flush()
    return Story(household, phone, session_id, collected.collection.receipt_code)
