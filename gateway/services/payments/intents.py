"""Payment intents: created before any provider call, one reference for every retry.

The USSD pay flow (member option 2) and the CLI create intents here; the worker initiates them
after commit; callbacks and the sweeper move them (payment_state, payment_effects)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import phonenumbers
from phonenumbers import carrier
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Household, IntentState, Mutual, PaymentIntent
from gateway.services.payments.port import PaymentRequest

MIN_PAYMENT = 100  # XOF: below this no operator collects
MAX_PAYMENT = 2_000_000  # XOF: the usual wallet ceiling in the UEMOA zone
INTENT_TTL = dt.timedelta(minutes=30)  # the operator's PIN prompt is long gone by then
_DIGITS = re.compile(r"[0-9]{1,12}")


class AmountRefused(ValueError):
    """An amount that is not whole XOF within the limits; the message says why."""


def parse_amount(text: str) -> int:
    """Whole XOF from what was typed or sent: digits only ("100.5", "1e3", "-5" are refused)."""
    raw = text.strip() if isinstance(text, str) else ""
    if not _DIGITS.fullmatch(raw):
        raise AmountRefused(f"amount must be whole francs, digits only, not {text!r}")
    return check_amount(int(raw))


def check_amount(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountRefused(f"amount must be a whole number of XOF, not {amount!r}")
    if amount < MIN_PAYMENT:
        raise AmountRefused(f"amount must be at least {MIN_PAYMENT} XOF, not {amount}")
    if amount > MAX_PAYMENT:
        raise AmountRefused(f"amount must be at most {MAX_PAYMENT} XOF, not {amount}")
    return amount


def operator_of(msisdn: str) -> str | None:
    """The mobile operator of a number, lowercased first word ("orange", "moov", "wave")."""
    try:
        name = carrier.name_for_number(phonenumbers.parse(msisdn, None), "en")
    except phonenumbers.NumberParseException:
        return None
    return name.split()[0].lower() if name else None


def channel_for(mutual: Mutual, msisdn: str) -> str | None:
    """The wallet's channel, e.g. `ORANGE_BF`: the number's operator and the mutual's country.
    With `[payment] operators = ["orange", "moov"]` in the mutual's TOML, other operators get
    None (the provider's own default applies)."""
    operator = operator_of(msisdn)
    if operator is None:
        return None
    accepted: Any = mutual.payment_settings.get("operators")
    if isinstance(accepted, list) and operator not in {str(o).lower() for o in accepted}:
        return None
    return f"{operator.upper()}_{mutual.country.upper()}"


def create_intent(
    session: Session,
    *,
    household: Household,
    amount: int,
    msisdn: str,
    now: dt.datetime,
    origin_key: str | None = None,
) -> PaymentIntent:
    """A CREATED intent for the household's mutual's provider. The same `origin_key` (e.g. one
    USSD session) gives back the same intent, so a replayed hop never asks twice."""
    check_amount(amount)
    if origin_key is not None and (found := _by_origin(session, origin_key)):
        return found
    mutual = session.get_one(Mutual, household.mutual_id)
    intent = PaymentIntent(
        mutual_id=mutual.id,
        household_id=household.id,
        reference=str(uuid.uuid4()),
        provider=mutual.payment_provider,
        channel=channel_for(mutual, msisdn),
        msisdn=msisdn,
        amount=amount,
        currency="XOF",
        state=IntentState.CREATED,
        origin_key=origin_key,
        expires_at=now + INTENT_TTL,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(intent)
    except IntegrityError:
        found = _by_origin(session, origin_key) if origin_key is not None else None
        if found is None:
            raise
        return found
    return intent


def _by_origin(session: Session, origin_key: str) -> PaymentIntent | None:
    return session.scalars(
        select(PaymentIntent).where(PaymentIntent.origin_key == origin_key)
    ).first()


def by_reference(session: Session, reference: str) -> PaymentIntent | None:
    return session.scalars(
        select(PaymentIntent).where(PaymentIntent.reference == reference)
    ).first()


def payment_request(
    session: Session, intent: PaymentIntent, public_url: str, token: str = ""
) -> PaymentRequest:
    """What the adapter needs; the notify URL is this gateway's callback for the provider,
    carrying the callback token when one is set (interfaces.md)."""
    mutual = session.get_one(Mutual, intent.mutual_id)
    household = session.get_one(Household, intent.household_id)
    return PaymentRequest(
        reference=intent.reference,
        amount=intent.amount,
        currency=intent.currency,
        msisdn=intent.msisdn,
        description=f"{mutual.code} cotisation {household.number}",
        notify_url=notify_url(public_url, intent.provider, token),
        channel=intent.channel,
        settings=dict(mutual.payment_settings),
    )


def notify_url(public_url: str, provider: str, token: str = "") -> str:
    url = f"{public_url.rstrip('/')}/payments/{provider}/callback"
    return f"{url}?{urlencode({'token': token})}" if token else url


def list_intents(
    session: Session, household_number: str | None = None, limit: int = 50
) -> list[PaymentIntent]:
    query = select(PaymentIntent).join(Household, Household.id == PaymentIntent.household_id)
    if household_number:
        query = query.where(Household.number == household_number)
    return list(session.scalars(query.order_by(PaymentIntent.id.desc()).limit(limit)))


def intent_row(intent: PaymentIntent) -> dict[str, object]:
    """The `gateway payments intents --json` shape (interfaces.md), plus why and flags."""
    return {
        "reference": intent.reference,
        "household": intent.household.number,
        "amount": intent.amount,
        "msisdn": intent.msisdn,
        "provider": intent.provider,
        "state": intent.state,
        "created_at": intent.created_at.isoformat(),
        "channel": intent.channel,
        "reason": intent.reason,
        "flag": intent.flag,
    }
