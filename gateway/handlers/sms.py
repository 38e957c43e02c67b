"""Africa's Talking SMS callbacks (messaging.md): delivery reports, incoming SMS, opt-outs.

Each checks the callback guard, reads its form (400 with the reason when malformed, never
500), does its work in one transaction and answers 200 fast. Replies are only queued here;
the worker's sms-dispatch sends them. Every callback is idempotent: the provider redelivers."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.handlers import guard_callback, request_session, services
from gateway.lib.phones import InvalidPhone, mask_msisdn, normalize_msisdn
from gateway.models.inbound import LINK_LEN, NETWORK_LEN, PROVIDER_ID_LEN, TO_LEN
from gateway.models.outbox import MESSAGE_ID_LEN
from gateway.services import messaging

PROVIDER = "africastalking"
MAX_TEXT = 2000  # a long concatenated SMS; more is not a member's message
log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


class InvalidCallback(ValueError):
    """A callback form the gateway cannot use; the message is the 400's reason."""


@bp.post("/sms/africastalking/delivery")
def africastalking_delivery() -> Response:
    """A delivery report: the outbox message moves forward; unknown ids are logged only."""
    guard_callback()
    try:
        message_id = _required(request.form, "id", MESSAGE_ID_LEN)
        status = request.form.get("status", "").strip()
        if status not in messaging.DELIVERY_STATUSES:
            known = ", ".join(messaging.DELIVERY_STATUSES)
            raise InvalidCallback(f"status must be one of {known}")
    except InvalidCallback as exc:
        abort(400, str(exc))
    failure = request.form.get("failureReason", "").strip() or None
    session = request_session()
    try:
        message = messaging.apply_delivery_report(
            session, message_id, status, now=services().clock.now(), failure_reason=failure
        )
        session.commit()
    except SQLAlchemyError:
        log.exception("delivery report not applied id=%s", message_id)
        abort(503, "database unavailable, try again")
    if message is None:
        log.warning("delivery report for an unknown message id=%s status=%s", message_id, status)
    else:
        log.info("delivery report id=%s status=%s now=%s", message_id, status, message.status)
    return _ok()


@bp.post("/sms/africastalking/inbound")
def africastalking_inbound() -> Response:
    """An SMS from a member: recorded once (deduped on `id`), keywords acted on."""
    guard_callback()
    try:
        sms = parse_inbound(request.form)
    except InvalidCallback as exc:
        abort(400, str(exc))
    session = request_session()
    try:
        messaging.handle_inbound(session, sms, now=services().clock.now())
        session.commit()
    except SQLAlchemyError:
        log.exception("inbound sms not handled id=%s", sms.provider_id)
        abort(503, "database unavailable, try again")
    return _ok()


@bp.post("/sms/africastalking/optout")
def africastalking_optout() -> Response:
    """The provider's opt-out notification: reminders off for the phone's households."""
    guard_callback()
    try:
        phone = _phone(request.form, "phoneNumber")
        sender = _optional(request.form, "senderId", TO_LEN)
    except InvalidCallback as exc:
        abort(400, str(exc))
    session = request_session()
    try:
        messaging.apply_optout(session, phone, now=services().clock.now(), sender_id=sender)
        session.commit()
    except SQLAlchemyError:
        log.exception("opt-out not applied phone=%s", mask_msisdn(phone))
        abort(503, "database unavailable, try again")
    return _ok()


def parse_inbound(form: Mapping[str, str]) -> messaging.Inbound:
    """The incoming SMS's form, checked: `id`, `from` and `to` are required."""
    text = form.get("text", "")
    if len(text) > MAX_TEXT:
        raise InvalidCallback(f"text longer than {MAX_TEXT} characters")
    return messaging.Inbound(
        provider=PROVIDER,
        provider_id=_required(form, "id", PROVIDER_ID_LEN),
        from_phone=_phone(form, "from"),
        to=_required(form, "to", TO_LEN),
        text=text,
        link_id=_optional(form, "linkId", LINK_LEN),
        network=_optional(form, "networkCode", NETWORK_LEN),
    )


def _required(form: Mapping[str, str], name: str, limit: int) -> str:
    value = _optional(form, name, limit)
    if value is None:
        raise InvalidCallback(f"{name} is required")
    return value


def _optional(form: Mapping[str, str], name: str, limit: int) -> str | None:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise InvalidCallback(f"{name} longer than {limit} characters")
    return value or None


def _phone(form: Mapping[str, str], name: str) -> str:
    """E.164 from `+22670123412`, or ` 22670123412` (a `+` decoded as a space)."""
    raw = form.get(name, "")
    text = raw.strip()
    if not text:
        raise InvalidCallback(f"{name} is required")
    try:
        return normalize_msisdn(text if text.startswith("+") else " " + text, "ZZ")
    except InvalidPhone as exc:
        raise InvalidCallback(f"{name} is not an international phone number: {exc}") from None


def _ok() -> Response:
    return Response("OK\n", mimetype="text/plain")
