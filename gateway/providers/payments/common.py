"""What the HTTP payment adapters share: strict amounts, MSISDN spellings, timeouts.

Amounts read from a provider are whole numbers or an error: "100.5", "1e3", "-5" or an
absurdly large figure are never rounded into something that could credit a member."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import phonenumbers
import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from gateway.models.payment_intent import PaymentEvent
from gateway.services.payments import CallbackEvent, CallbackRejected

# Connect, read. A read timeout means the request left: its outcome is unknown.
HTTP_TIMEOUT_S = (3.05, 15.0)
# Far above any contribution; guards BIGINT columns against a provider's garbage.
MAX_AMOUNT = 10**12
_DIGITS = re.compile(r"^[0-9]{1,13}$")


class InvalidAmount(ValueError):
    """An amount that is not a positive whole number within MAX_AMOUNT."""


def parse_amount(value: Any) -> int:
    """A provider's amount (string or JSON number) as int, refusing anything not whole."""
    if isinstance(value, bool):
        raise InvalidAmount(f"amount must be a whole number, not {value!r}")
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and _DIGITS.match(value):
        amount = int(value)
    else:
        raise InvalidAmount(f"amount must be a whole number of units, not {value!r}")
    if not 0 < amount <= MAX_AMOUNT:
        raise InvalidAmount(f"amount out of range: {value!r}")
    return amount


def check_request_amount(amount: int) -> str | None:
    """Why an intent's amount cannot be sent, or None."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"amount must be an int, not {amount!r}"
    if not 0 < amount <= MAX_AMOUNT:
        return f"amount out of range: {amount}"
    return None


def split_msisdn(msisdn: str) -> tuple[str, str]:
    """`+22670123412` -> (`226`, `70123412`): country calling code and national number.

    Raises ValueError when the number is not a valid E.164 number with its `+`."""
    if not msisdn.startswith("+") or not msisdn[1:].isdigit():
        raise ValueError(f"not an E.164 number with +: {msisdn!r}")
    try:
        number = phonenumbers.parse(msisdn, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {msisdn!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number: {msisdn!r}")
    return str(number.country_code), str(phonenumbers.national_significant_number(number))


def msisdn_digits(msisdn: str) -> str:
    """`+22670123412` -> `22670123412`: the spelling of APIs that want digits only."""
    prefix, national = split_msisdn(msisdn)
    return prefix + national


def join_msisdn(prefix: str, number: str) -> str | None:
    """Back to E.164 from a provider's (prefix, number) pair; None when it does not parse."""
    prefix, number = prefix.strip().lstrip("+"), number.strip().lstrip("+")
    for candidate in (f"+{prefix}{number}", f"+{number}"):
        try:
            split_msisdn(candidate)
        except ValueError:
            continue
        return candidate
    return None


def json_object(response: requests.Response) -> dict[str, Any] | None:
    """The answer's JSON object, or None when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (frameworks and fakes spell them differently)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def not_sent(exc: requests.RequestException) -> bool:
    """True when the connection itself failed, so the provider cannot have the request; a read
    timeout or a reset after sending leaves the outcome unknown."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


# --- every callback's fields, bounded before anything is recorded (issue 15) ----------------

# The payment_events columns an event's fields land in: a longer value is refused (400), so
# that a provider's garbage never reaches the database as a DataError (answered 5xx, and so
# redelivered for hours).
_EVENT_COLUMNS = PaymentEvent.__table__.c
EVENT_LIMITS = {
    name: int(getattr(_EVENT_COLUMNS[name].type, "length", 0) or 0)
    for name in ("reference", "provider_txn_id", "currency", "msisdn")
}
MAX_REASON = 200  # payment_intents.reason
# C0 and C1 control characters, DEL included: no provider field holds one, and PostgreSQL
# cannot store NUL at all.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control(value: str) -> bool:
    """True when `value` holds a control character (NUL, ESC, DEL...)."""
    return _CONTROL.search(value) is not None


def check_event(event: CallbackEvent) -> CallbackEvent:
    """The adapter's event with every text field checked against its column and for control
    characters (CallbackRejected naming the field); an over-long reason, only informative,
    is cut rather than refused."""
    for name, limit in EVENT_LIMITS.items():
        value = getattr(event, name)
        if value is None:
            continue
        if has_control(value):
            raise CallbackRejected(f"{name} contains a control character")
        if len(value) > limit:
            raise CallbackRejected(f"{name} longer than {limit} characters")
    if has_control(event.event_key):
        raise CallbackRejected("the event's identifiers contain a control character")
    reason = event.reason
    if reason is not None and (has_control(reason) or len(reason) > MAX_REASON):
        reason = _CONTROL.sub(" ", reason)[:MAX_REASON]
        event = dataclasses.replace(event, reason=reason)
    return event
