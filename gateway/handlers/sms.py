"""Africa's Talking SMS callbacks (messaging.md): delivery reports, incoming SMS, opt-outs.

Each checks the callback guard, has its form read by the provider's adapter (400 with the
reason when malformed, never 500), does its work in one transaction and answers 200 fast.
Replies are only queued here; the worker's sms-dispatch sends them. Every callback is
idempotent: the provider redelivers."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from gateway.handlers import committed, guard_callback, read_form, runtime
from gateway.lib.phones import mask_msisdn
from gateway.providers.africastalking.sms_callbacks import (
    parse_delivery_report,
    parse_inbound,
    parse_optout,
)
from gateway.services import messaging

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


@bp.post("/sms/africastalking/delivery")
def africastalking_delivery() -> Response:
    """A delivery report: the outbox message moves forward; unknown ids are logged only."""
    guard_callback()
    report = read_form(parse_delivery_report)
    with committed("delivery report not applied id=%s", report.message_id) as session:
        message = messaging.apply_delivery_report(
            session,
            report.message_id,
            report.status,
            now=runtime().clock.now(),
            failure_reason=report.failure_reason,
        )
    if message is None:
        log.warning(
            "delivery report for an unknown message id=%s status=%s",
            report.message_id,
            report.status,
        )
    else:
        log.info(
            "delivery report id=%s status=%s now=%s",
            report.message_id,
            report.status,
            message.status,
        )
    return _ok()


@bp.post("/sms/africastalking/inbound")
def africastalking_inbound() -> Response:
    """An SMS from a member: recorded once (deduped on `id`), keywords acted on."""
    guard_callback()
    sms = read_form(parse_inbound)
    with committed("inbound sms not handled id=%s", sms.provider_id) as session:
        messaging.handle_inbound(session, sms, now=runtime().clock.now())
    return _ok()


@bp.post("/sms/africastalking/optout")
def africastalking_optout() -> Response:
    """The provider's opt-out notification: reminders off for the phone's households."""
    guard_callback()
    optout = read_form(parse_optout)
    with committed("opt-out not applied phone=%s", mask_msisdn(optout.phone)) as session:
        messaging.apply_optout(
            session, optout.phone, now=runtime().clock.now(), sender_id=optout.sender_id
        )
    return _ok()


def _ok() -> Response:
    return Response("OK\n", mimetype="text/plain")
