"""`POST /ussd/africastalking/events`: Africa's Talking's end-of-session notification (ussd.md).

Stored once per session in the audit (PINs masked), then handed to the menu engine so that a
member whose session dropped is offered to resume. Answers fast: one insert, one Redis call."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response

from gateway.handlers import committed, guard_callback, read_form, runtime
from gateway.lib.phones import phone_key
from gateway.menus.hop import note_session_end
from gateway.providers.africastalking.ussd_events import parse_session_end
from gateway.services.ussd_audit import mask_phone, record_session_end

log = logging.getLogger(__name__)
bp = Blueprint("ussd_events", __name__)


@bp.post("/ussd/africastalking/events")
def africastalking_events() -> Response:
    """Store the notification (a duplicate is acknowledged and ignored), then tell the engine."""
    guard_callback()
    end = read_form(parse_session_end)
    app = runtime()
    with committed("ussd event not stored session=%s", end.session_id) as session:
        key = phone_key(app.settings.secret_key, end.phone) if end.phone else None
        new = record_session_end(session, end, at=app.clock.now(), phone_key=key)
    log.info(
        "ussd session end session=%s status=%s phone=%s new=%s",
        end.session_id,
        end.status,
        mask_phone(end.phone),
        new,
    )
    if new and end.phone:
        _note_session_end(app.redis, end.phone, end.status, app.settings.secret_key)
    return Response("OK\n", mimetype="text/plain")


def _note_session_end(client: redis.Redis[bytes], phone: str, status: str, secret: str) -> None:
    """Let the engine remember a dropped session (resume offer); Redis down costs only that."""
    try:
        note_session_end(client, phone, status, secret)
    except redis.RedisError:
        log.warning("resume note lost (Redis unavailable) phone=%s", mask_phone(phone))
