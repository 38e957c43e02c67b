"""`POST /ussd/africastalking/events`: Africa's Talking's end-of-session notification (ussd.md).

Stored once per session in the audit (PINs masked), then handed to the menu engine so that a
member whose session dropped is offered to resume. Answers fast: one insert, one Redis call."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

import redis
from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.handlers import guard_callback, request_session, services
from gateway.menus.engine import note_session_end
from gateway.models.ussd import SESSION_LEN, STATUSES
from gateway.providers.ussd import MalformedUssdRequest, parse_phone
from gateway.services.ussd_audit import SessionEnd, mask_phone, record_session_end

PROVIDER = "africastalking"
MAX_COUNT = 2**31 - 1  # an INTEGER column on both backends
log = logging.getLogger(__name__)
bp = Blueprint("ussd_events", __name__)


class InvalidEvent(ValueError):
    """A notification the gateway cannot store; the message is the 400's reason."""


@bp.post("/ussd/africastalking/events")
def africastalking_events() -> Response:
    """Store the notification (a duplicate is acknowledged and ignored), then tell the engine."""
    guard_callback()
    try:
        end = parse_africastalking_event(request.form)
    except InvalidEvent as exc:
        abort(400, str(exc))
    app = services()
    session = request_session()
    try:
        new = record_session_end(session, end, at=app.clock.now())
        session.commit()
    except SQLAlchemyError:
        log.exception("ussd event not stored session=%s", end.session_id)
        abort(503, "database unavailable, try again")
    log.info(
        "ussd session end session=%s status=%s phone=%s new=%s",
        end.session_id,
        end.status,
        mask_phone(end.phone),
        new,
    )
    if new and end.phone:
        _note_session_end(app.redis, end.phone, end.status)
    return Response("OK\n", mimetype="text/plain")


def parse_africastalking_event(form: Mapping[str, str]) -> SessionEnd:
    """The notification's form fields, checked; optional fields may be absent or empty."""
    session_id = form.get("sessionId", "").strip()
    if not session_id:
        raise InvalidEvent("sessionId is required")
    if len(session_id) > SESSION_LEN:
        raise InvalidEvent(f"sessionId longer than {SESSION_LEN} characters")
    status = form.get("status", "").strip()
    if status not in STATUSES:
        raise InvalidEvent(f"status must be one of {', '.join(STATUSES)}")
    return SessionEnd(
        provider=PROVIDER,
        session_id=session_id,
        phone=e164(form.get("phoneNumber", "")),
        network=form.get("networkCode", "").strip() or None,
        service_code=form.get("serviceCode", "").strip(),
        status=status,
        ended_at=_date(form.get("date", "")),
        cost=form.get("cost", "").strip() or None,
        duration_ms=_count(form, "durationInMillis"),
        hops_count=_count(form, "hopsCount"),
        inputs=form.get("input", ""),
        last_app_response=form.get("lastAppResponse") or None,
        error_message=form.get("errorMessage") or None,
    )


def e164(raw: str) -> str:
    """E.164 as the hop endpoint reads it (so the engine finds the same phone), the `+` lost
    as a space included; an unreadable number is kept as sent: the event is still worth it."""
    try:
        return parse_phone(raw)
    except MalformedUssdRequest:
        return raw.strip()


def _count(form: Mapping[str, str], name: str) -> int | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_COUNT:
        raise InvalidEvent(f"{name} must be a whole number between 0 and {MAX_COUNT}")
    return int(raw)


def _date(raw: str) -> dt.datetime | None:
    """The aggregator's end date (`2026-11-24 10:15:02.123`), read as UTC when it gives no
    offset; an unreadable date is dropped rather than losing the whole notification."""
    try:
        when = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _note_session_end(client: redis.Redis[bytes], phone: str, status: str) -> None:
    """Let the engine remember a dropped session (resume offer); Redis down costs only that."""
    try:
        note_session_end(client, phone, status)
    except redis.RedisError:
        log.warning("resume note lost (Redis unavailable) phone=%s", mask_phone(phone))
