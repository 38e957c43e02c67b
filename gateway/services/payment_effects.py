"""What a verified payment does, once: credit and allocate (D7), or suspense; and the receipt.

Called by payment_flow with the intent row locked; nothing here commits."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Household, Mutual, PaymentIntent, SuspenseItem
from gateway.services import ledger
from gateway.services.alerts import raise_alert
from gateway.services.allocation import receive_payment
from gateway.services.book import load_book
from gateway.services.catalogs import ussd_messages
from gateway.services.eligibility import household_status
from gateway.services.notifications import queue_sms

log = logging.getLogger(__name__)
MUTUAL_LABEL_LEN = 24  # as the other SMS: the templates' longest mutual name


def short_reference(intent: PaymentIntent) -> str:
    """What the member sees and can quote: MM- and the first 8 characters of our reference."""
    return f"MM-{intent.reference[:8].upper()}"


def credit_household(
    session: Session, intent: PaymentIntent, amount: int, now: dt.datetime
) -> None:
    """Dr float / Cr household, then D7 allocation as of today (UTC business day)."""
    household = session.get_one(Household, intent.household_id)
    payment, _created = receive_payment(
        session,
        household=household,
        amount=amount,
        paid_on=now.date(),
        channel="mobile",
        reference=f"mm:{intent.reference}",
        debit_account=f"asset:float:{intent.provider}",
    )
    intent.payment_id = payment.id
    queue_receipt(session, intent, now)


def queue_receipt(session: Session, intent: PaymentIntent, now: dt.datetime) -> None:
    """payment_receipt when the household is now up to date (or owes nothing), else
    payment_partial with what is still due. Once per intent (dedupe key)."""
    household = session.get_one(Household, intent.household_id)
    mutual = session.get_one(Mutual, intent.mutual_id)
    summary = household_status(load_book(session, household), now.date())
    language = household.language or mutual.default_language
    day = summary.until or summary.from_
    template = "payment_partial" if summary.amount_due > 0 else "payment_receipt"
    params = {
        "mutual": mutual.name[:MUTUAL_LABEL_LEN],
        "amount": money(language, intent.amount),
        "household": household.number,
        "reference": short_reference(intent),
        "until": day.strftime("%d/%m/%Y") if day else "-",
        "due": money(language, summary.amount_due),
    }
    _queue(session, intent, template, language, params, f"payment-receipt:{intent.reference}")


def queue_failure(session: Session, intent: PaymentIntent) -> None:
    household = session.get_one(Household, intent.household_id)
    mutual = session.get_one(Mutual, intent.mutual_id)
    language = household.language or mutual.default_language
    params = {
        "mutual": mutual.name[:MUTUAL_LABEL_LEN],
        "amount": money(language, intent.amount),
        "household": household.number,
        "reference": short_reference(intent),
    }
    _queue(
        session, intent, "payment_failed", language, params, f"payment-failed:{intent.reference}"
    )


def _queue(
    session: Session,
    intent: PaymentIntent,
    template: str,
    language: str,
    params: Mapping[str, object],
    key: str,
) -> None:
    try:
        queue_sms(
            session,
            mutual_id=intent.mutual_id,
            household_id=intent.household_id,
            phone=intent.msisdn,
            template=template,
            language=language,
            params=params,
            reason="receipt",
            dedupe_key=key,
        )
    except ValueError:  # a receipt that cannot be rendered must not undo the payment
        log.exception("receipt %s not queued for intent %s", template, intent.reference)


def money(language: str, amount: int) -> str:
    """D2: `8 750 FCFA`, with the catalog's thousands separator."""
    texts = ussd_messages(language)
    return texts["amount"].format(value=f"{amount:,}".replace(",", texts["thousands_sep"]))


def to_suspense(
    session: Session,
    *,
    provider: str,
    provider_txn_id: str,
    amount: int,
    now: dt.datetime,
    reason: str,
    currency: str | None = None,
    reference: str | None = None,
    msisdn: str | None = None,
    intent: PaymentIntent | None = None,
) -> SuspenseItem:
    """Verified money a person must place: once per (provider, transaction). Booked to
    liab:suspense:<provider> when its mutual is known (from the intent), never to a member."""
    found = _suspense(session, provider, provider_txn_id)
    if found is not None:
        return found
    mutual_id = intent.mutual_id if intent is not None else None
    item = SuspenseItem(
        mutual_id=None,  # set by book_suspense
        provider=provider,
        provider_txn_id=provider_txn_id,
        reference=reference,
        msisdn=msisdn,
        amount=amount,
        currency=currency or "XOF",
        received_on=now.date(),
        reason=reason,
        state="OPEN",
        intent_id=intent.id if intent is not None else None,
        household_id=intent.household_id if intent is not None else None,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(item)
    except IntegrityError:
        found = _suspense(session, provider, provider_txn_id)
        if found is None:
            raise
        return found
    if mutual_id is not None:
        book_suspense(session, item, mutual_id)
    raise_alert(
        session,
        kind=f"payment_{reason}",
        subject=f"suspense:{provider}:{provider_txn_id}",
        detail=f"{amount} {currency or 'XOF'} from {provider} held in suspense ({reason})",
        now=now,
        mutual_id=mutual_id,
    )
    return item


def book_suspense(session: Session, item: SuspenseItem, mutual_id: int) -> None:
    """Dr float / Cr liab:suspense:<provider> in the mutual the money turned out to belong to;
    once per item (its key), whether the intent, a statement or a person found the mutual."""
    if item.ledger_key is not None:
        return
    item.mutual_id = mutual_id
    item.ledger_key = f"suspense:{item.provider}:{item.provider_txn_id}"
    ledger.post(
        session,
        mutual_id=mutual_id,
        key=item.ledger_key,
        kind="suspense",
        occurred_on=item.received_on,
        lines=[
            (f"asset:float:{item.provider}", item.amount),
            (f"liab:suspense:{item.provider}", -item.amount),
        ],
        description=f"{item.reason} {item.provider} {item.provider_txn_id}",
    )


def _suspense(session: Session, provider: str, txn: str) -> SuspenseItem | None:
    return session.scalars(
        select(SuspenseItem).where(
            SuspenseItem.provider == provider, SuspenseItem.provider_txn_id == txn
        )
    ).first()
