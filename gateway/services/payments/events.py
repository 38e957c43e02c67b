"""What providers send (payments.md): each raw callback delivery stored first, whatever it turns
out to be, and each distinct provider event recorded once, tied to its intent when one is
known. Applying an event is payment_flow's; nothing here commits."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib.redact import TOKEN_PARAM
from gateway.models import PaymentCallback, PaymentEvent, PaymentIntent
from gateway.services.payments.lifecycle import MAX_RAW
from gateway.services.payments.port import CallbackEvent, CallbackRequest


def storable(body: bytes) -> str:
    """The raw body as text any backend stores: undecodable bytes and NUL (which PostgreSQL
    refuses in text) become U+FFFD; the caller caps the length (MAX_RAW bytes) first."""
    return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def store_callback(
    session: Session, provider: str, request: CallbackRequest, now: dt.datetime
) -> PaymentCallback:
    """The raw delivery, first of all, whatever it turns out to be; the query string is kept
    without the callback token (checked already, and never stored)."""
    row = PaymentCallback(
        provider=provider[:32],
        method=request.method[:8],
        query=urlencode({k: v for k, v in request.args.items() if k != TOKEN_PARAM})[:MAX_RAW],
        body=storable(request.body[:MAX_RAW]),
        received_at=now,
    )
    session.add(row)
    session.flush()
    return row


def record_event(
    session: Session,
    provider: str,
    event: CallbackEvent,
    callback_id: int | None,
    now: dt.datetime,
    source: str = "callback",
) -> tuple[PaymentEvent, bool]:
    """Each distinct provider event once; (event, False) for a redelivery."""
    found = _event(session, provider, event.event_key)
    if found is None:
        intent = _intent_for(session, provider, event.reference, event.provider_txn_id)
        found = PaymentEvent(
            provider=provider,
            event_key=event.event_key[:200],
            source=source,
            intent_id=intent.id if intent is not None else None,
            reference=event.reference,
            provider_txn_id=event.provider_txn_id,
            state=event.state.value,
            amount=event.amount,
            currency=event.currency,
            msisdn=event.msisdn,
            verified=event.verified and not event.needs_confirmation,
            received_at=now,
        )
        try:
            with session.begin_nested():
                session.add(found)
            created = True
        except IntegrityError:
            found = _event(session, provider, event.event_key)
            if found is None:
                raise
            created = False
    else:
        created = False
    if callback_id is not None:
        callback = session.get(PaymentCallback, callback_id)
        if callback is not None:
            callback.event_id = found.id
            callback.outcome = "event" if created else "duplicate"
    return found, created


def _event(session: Session, provider: str, key: str) -> PaymentEvent | None:
    return session.scalars(
        select(PaymentEvent).where(
            PaymentEvent.provider == provider, PaymentEvent.event_key == key[:200]
        )
    ).first()


def _intent_for(
    session: Session, provider: str, reference: str | None, txn: str | None
) -> PaymentIntent | None:
    if reference:
        found = session.scalars(
            select(PaymentIntent).where(
                PaymentIntent.reference == reference, PaymentIntent.provider == provider
            )
        ).first()
        if found is not None:
            return found
    if txn:
        return session.scalars(
            select(PaymentIntent).where(
                PaymentIntent.provider == provider, PaymentIntent.provider_txn_id == txn
            )
        ).first()
    return None
