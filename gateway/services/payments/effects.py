"""What a verified payment does, once: credit and allocate (D7), or suspense; and the receipt.

Called by payment_flow with the intent row locked; nothing here commits."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import String, exists, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.lib import formatting
from gateway.lib.catalogs import pick_language
from gateway.models import (
    Alert,
    Household,
    Mutual,
    OutboxMessage,
    Payment,
    PaymentIntent,
    SuspenseItem,
    SuspenseState,
)
from gateway.services import ledger
from gateway.services.alerts import raise_alert
from gateway.services.coverage import (
    held_text,
    receipt_status,
    receive_payment,
    refresh_snapshots,
    remains,
    standing_of,
)
from gateway.services.messaging import queue_sms

log = logging.getLogger(__name__)
alerts_log = logging.getLogger("gateway.services.alerts")  # as raise_alert logs
TXNS_PER_QUERY = 1000  # hold_in_bulk: transactions looked up per statement


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
        debit_account=ledger.accounts.provider_float(intent.provider),
        now=now,
    )
    intent.payment_id = payment.id
    if ledger.on_hold(session, intent.mutual_id):
        # Nothing was allocated: a receipt now would tell the member a coverage that is not
        # theirs yet. queue_held_receipts sends it once the hold is cleared.
        log.warning("receipt of intent %s deferred: ledger on hold", intent.reference)
        return
    queue_receipt(session, intent, now)


def queue_held_receipts(session: Session, mutual_id: int, since: dt.date, now: dt.datetime) -> int:
    """The receipts a ledger hold deferred, queued once it is cleared (after the allocation):
    the mutual's mobile payments dated from `since` whose receipt is not in the outbox yet.
    Returns how many receipts were due."""
    receipt_key = literal("payment-receipt:", String) + PaymentIntent.reference
    sent = exists().where(OutboxMessage.dedupe_key == receipt_key)
    query = (
        select(PaymentIntent)
        .join(Payment, Payment.id == PaymentIntent.payment_id)
        .where(Payment.mutual_id == mutual_id, Payment.paid_on >= since, ~sent)
        .order_by(Payment.id)
    )
    intents = list(session.scalars(query))
    for intent in intents:
        queue_receipt(session, intent, now)
    return len(intents)


def queue_receipt(session: Session, intent: PaymentIntent, now: dt.datetime) -> None:
    """payment_partial when something is still to pay for the period offered (D6b: what is
    left and for which period), else payment_receipt with the household's headline (covered
    until, or paid and covered from: D12). Once per intent (dedupe key)."""
    household = session.get_one(Household, intent.household_id)
    mutual = session.get_one(Mutual, intent.mutual_id)
    refresh_snapshots(session)  # the standing then reads the rebuilt snapshot, not the book
    found = standing_of(session, household, local_date(now, mutual.timezone))
    language = pick_language(household.language, mutual.default_language)
    template = "payment_partial" if remains(found) else "payment_receipt"
    params = {
        "mutual": mutual.sms_name,
        "amount": formatting.money(intent.amount, language),
        "household": household.number,
        "reference": short_reference(intent),
        "cover": receipt_status(found, language),
    }
    payment = session.get(Payment, intent.payment_id) if intent.payment_id else None
    if payment is not None and payment.held:  # no cover promised for money not yet applied
        template, params["cover"] = "payment_receipt", held_text(language)
    _queue(session, intent, template, language, params, f"payment-receipt:{intent.reference}")


def queue_failure(session: Session, intent: PaymentIntent) -> None:
    household = session.get_one(Household, intent.household_id)
    mutual = session.get_one(Mutual, intent.mutual_id)
    language = household.language or mutual.default_language
    params = {
        "mutual": mutual.sms_name,
        "amount": formatting.money(intent.amount, language),
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
    hold = Hold(provider, provider_txn_id, amount, now, reason, currency, reference, msisdn)
    item = _item(hold, intent)
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
    kind, subject, detail = _alert_fields(hold)
    raise_alert(session, kind=kind, subject=subject, detail=detail, now=now, mutual_id=mutual_id)
    return item


def book_suspense(session: Session, item: SuspenseItem, mutual_id: int) -> None:
    """Dr float / Cr liab:suspense:<provider> in the mutual the money turned out to belong to;
    once per item (its key), whether the intent, a statement or a person found the mutual."""
    if item.ledger_key is not None:
        return
    ledger.post_one(session, mutual_id, _booked(item, mutual_id))


@dataclass(frozen=True)
class Hold:
    """Money of no known intent to hold in suspense (the arguments of `to_suspense`)."""

    provider: str
    provider_txn_id: str
    amount: int
    now: dt.datetime
    reason: str
    currency: str | None = None
    reference: str | None = None
    msisdn: str | None = None


def hold_in_bulk(session: Session, holds: Sequence[Hold], mutual_id: int) -> list[SuspenseItem]:
    """`to_suspense` then `book_suspense` in `mutual_id` for each hold, set-based (one look-up,
    one insert of the new items and their alerts, one of their postings): the same rows, keys
    and alerts as one by one, and the items in the holds' order. A transaction held already
    is found, and booked if it was not; a unique-index race lost to a concurrent holder (a
    callback of the same transaction) does them one by one instead."""
    found = _held(session, holds)
    new: list[tuple[SuspenseItem, Hold]] = []
    for h in holds:
        if (h.provider, h.provider_txn_id) not in found:
            item = _item(h)
            found[(h.provider, h.provider_txn_id)] = item
            new.append((item, h))
    alerts = [_alert(h) for _, h in new]
    known = _alert_keys(session, [a.dedupe_key for a in alerts])
    alerts = [a for a in alerts if a.dedupe_key not in known]
    try:
        with session.begin_nested():
            session.add_all([item for item, _ in new])
            session.add_all(alerts)
            session.flush()
    except IntegrityError:
        return [_hold_one(session, h, mutual_id) for h in holds]
    for alert in alerts:
        alerts_log.warning("alert kind=%s subject=%s: %s", alert.kind, alert.subject, alert.detail)
    items = [found[(h.provider, h.provider_txn_id)] for h in holds]
    postings = []
    for item in dict.fromkeys(items):  # once each, in order
        if item.ledger_key is None:
            postings.append(_booked(item, mutual_id))
    ledger.post_many(session, mutual_id=mutual_id, postings=postings)
    return items


def _held(session: Session, holds: Sequence[Hold]) -> dict[tuple[str, str], SuspenseItem]:
    """The holds' transactions already in suspense, by (provider, transaction)."""
    found: dict[tuple[str, str], SuspenseItem] = {}
    for provider in sorted({h.provider for h in holds}):
        txns = sorted({h.provider_txn_id for h in holds if h.provider == provider})
        for i in range(0, len(txns), TXNS_PER_QUERY):
            query = select(SuspenseItem).where(
                SuspenseItem.provider == provider,
                SuspenseItem.provider_txn_id.in_(txns[i : i + TXNS_PER_QUERY]),
            )
            for item in session.scalars(query.order_by(SuspenseItem.id)):
                found.setdefault((item.provider, item.provider_txn_id), item)
    return found


def _hold_one(session: Session, h: Hold, mutual_id: int) -> SuspenseItem:
    item = to_suspense(
        session,
        provider=h.provider,
        provider_txn_id=h.provider_txn_id,
        amount=h.amount,
        now=h.now,
        reason=h.reason,
        currency=h.currency,
        reference=h.reference,
        msisdn=h.msisdn,
    )
    book_suspense(session, item, mutual_id)
    return item


def _item(h: Hold, intent: PaymentIntent | None = None) -> SuspenseItem:
    return SuspenseItem(
        mutual_id=None,  # set when booked
        provider=h.provider,
        provider_txn_id=h.provider_txn_id,
        reference=h.reference,
        msisdn=h.msisdn,
        amount=h.amount,
        currency=h.currency or "XOF",
        received_on=h.now.date(),
        reason=h.reason,
        state=SuspenseState.OPEN,
        intent_id=intent.id if intent is not None else None,
        household_id=intent.household_id if intent is not None else None,
        created_at=h.now,
    )


def _alert_fields(h: Hold) -> tuple[str, str, str]:
    """Kind, subject and detail of the alert a new suspense item raises."""
    detail = f"{h.amount} {h.currency or 'XOF'} from {h.provider} held in suspense ({h.reason})"
    return f"payment_{h.reason}", f"suspense:{h.provider}:{h.provider_txn_id}", detail


def _alert(h: Hold) -> Alert:
    """The alert `to_suspense` raises for a new item of no known intent (raise_alert's key)."""
    kind, subject, detail = _alert_fields(h)
    return Alert(
        mutual_id=None,
        kind=kind,
        subject=subject,
        detail=detail,
        dedupe_key=f"{kind}:{subject}",
        created_at=h.now,
    )


def _alert_keys(session: Session, keys: list[str]) -> set[str]:
    known: set[str] = set()
    for i in range(0, len(keys), TXNS_PER_QUERY):
        query = select(Alert.dedupe_key).where(Alert.dedupe_key.in_(keys[i : i + TXNS_PER_QUERY]))
        known.update(session.scalars(query))
    return known


def _booked(item: SuspenseItem, mutual_id: int) -> ledger.Posting:
    """The item placed in its mutual, and its posting: Dr float / Cr liab:suspense:<provider>,
    once per item (its ledger key)."""
    item.mutual_id = mutual_id
    item.ledger_key = f"suspense:{item.provider}:{item.provider_txn_id}"
    return ledger.Posting(
        key=item.ledger_key,
        kind="suspense",
        occurred_on=item.received_on,
        lines=[
            (ledger.accounts.provider_float(item.provider), item.amount),
            (ledger.accounts.suspense(item.provider), -item.amount),
        ],
        description=f"{item.reason} {item.provider} {item.provider_txn_id}",
    )


def _suspense(session: Session, provider: str, txn: str) -> SuspenseItem | None:
    return session.scalars(
        select(SuspenseItem).where(
            SuspenseItem.provider == provider, SuspenseItem.provider_txn_id == txn
        )
    ).first()
