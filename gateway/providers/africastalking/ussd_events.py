"""Africa's Talking's end-of-session notification (ussd.md) read into the audit's `SessionEnd`.

Lenient where the event is still worth keeping (an unreadable phone is kept as sent, an
unreadable date dropped), strict on what identifies it: `sessionId` and `status`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from gateway.models.ussd import SESSION_LEN, STATUSES
from gateway.providers.africastalking import PROVIDER
from gateway.providers.africastalking.form import AtForm, MalformedForm, international
from gateway.services.ussd_audit import SessionEnd

MAX_COUNT = 2**31 - 1  # an INTEGER column on both backends


def parse_session_end(fields: Mapping[str, str]) -> SessionEnd:
    """The notification's fields, checked (MalformedForm); optional ones may be absent or empty."""
    form = AtForm(fields)
    session_id = form.required("sessionId", SESSION_LEN)
    status = form.choice("status", STATUSES)
    return SessionEnd(
        provider=PROVIDER,
        session_id=session_id,
        phone=e164(form.optional("phoneNumber") or ""),
        network=form.optional("networkCode"),
        service_code=form.optional("serviceCode") or "",
        status=status,
        ended_at=_date(form.optional("date") or ""),
        cost=form.optional("cost"),
        duration_ms=form.count("durationInMillis", MAX_COUNT),
        hops_count=form.count("hopsCount", MAX_COUNT),
        inputs=form.raw("input"),
        last_app_response=form.raw("lastAppResponse") or None,
        error_message=form.raw("errorMessage") or None,
    )


def e164(raw: str) -> str:
    """E.164 as the hop reads it (so the engine finds the same phone); an unreadable number is
    kept as sent: the event is still worth it."""
    try:
        return international("phoneNumber", raw)
    except MalformedForm:
        return raw


def _date(raw: str) -> dt.datetime | None:
    """The aggregator's end date (`2026-11-24 10:15:02.123`), read as UTC when it gives no
    offset; an unreadable date is dropped rather than losing the whole notification."""
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
