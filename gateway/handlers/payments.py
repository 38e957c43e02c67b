"""`GET|POST|PUT /payments/<provider>/callback`: payment notifications (payments.md; PUT is how
MTN MoMo delivers its request-to-pay callbacks).

Order matters: the callback guard (token, IP allowlist), the raw delivery stored and committed
first, then the adapter's verdict: malformed -> 400 with the reason, forged -> 401 (no money
moves), a ping -> 200. The event is recorded once and its effect applied by the worker
(`confirm-payment`: directly for a signed event, after a status query otherwise), so the
provider gets its 2xx fast; the sweeper re-enqueues events whose job was lost. Bad input is
never a 5xx; a database that does not answer is a 503 (the provider redelivers)."""

from __future__ import annotations

import logging
from typing import cast

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.handlers import guard_callback, request_session, services
from gateway.models import PaymentCallback
from gateway.providers.payments import ADAPTERS, payment_provider
from gateway.providers.payments.base import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    PaymentProvider,
)
from gateway.queueing import defer
from gateway.services import payment_flow

log = logging.getLogger(__name__)
bp = Blueprint("payments", __name__)
PROVIDERS_KEY = "gateway.payment_providers"
MAX_HEADERS = 100


@bp.route("/payments/<provider>/callback", methods=["GET", "POST", "PUT"])
def callback(provider: str) -> Response:
    guard_callback()
    adapter = _adapter(provider)
    session = request_session()
    now = services().clock.now()
    raw = _raw_request()
    try:
        stored = payment_flow.store_callback(session, provider, raw, now)
        session.commit()
    except SQLAlchemyError:
        log.exception("payment callback not stored provider=%s", provider)
        abort(503, "database unavailable, try again")
    callback_id = stored.id
    event = _parse(adapter, raw, callback_id)
    if event is None:
        _mark(callback_id, "ping")
        return Response("OK\n", mimetype="text/plain")
    try:
        outcome = _handle(provider, event, callback_id)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("payment callback not applied provider=%s id=%s", provider, callback_id)
        abort(503, "database unavailable, try again")
    log.info(
        "payment callback provider=%s id=%s reference=%s state=%s outcome=%s",
        provider,
        callback_id,
        event.reference,
        event.state.value,
        outcome,
    )
    return Response(f"OK {outcome}\n", mimetype="text/plain")


def _adapter(name: str) -> PaymentProvider:
    """The provider's adapter, built once per app; unknown or unavailable names are a 404."""
    built = cast("dict[str, PaymentProvider]", current_app.extensions.setdefault(PROVIDERS_KEY, {}))
    if name not in built:
        if name not in ADAPTERS:
            abort(404, f"unknown payment provider {name!r}; known: {', '.join(sorted(ADAPTERS))}")
        try:
            built[name] = payment_provider(name, services().settings)
        except (ImportError, ValueError) as exc:
            log.error("payment provider %s unavailable: %s", name, exc)
            abort(404, f"payment provider {name!r} is not available")
    return built[name]


def _raw_request() -> CallbackRequest:
    """The delivery as received; the body is read once (cached) before any form parsing."""
    body = request.get_data(cache=True, parse_form_data=False)
    if len(request.headers) > MAX_HEADERS:
        abort(400, f"more than {MAX_HEADERS} headers")
    form = request.form.to_dict() if request.mimetype.endswith("form-urlencoded") else {}
    return CallbackRequest(
        method=request.method,
        headers={k: v for k, v in request.headers.items()},
        args=request.args.to_dict(),
        form=form,
        body=body,
    )


def _parse(
    adapter: PaymentProvider, raw: CallbackRequest, callback_id: int
) -> CallbackEvent | None:
    """The adapter's verdict; refusals are recorded on the stored delivery, then answered."""
    try:
        return adapter.parse_callback(raw)
    except ForgedCallback as exc:
        _mark(callback_id, "forged")
        log.warning("forged payment callback id=%s: %s", callback_id, exc)
        abort(401, str(exc))
    except (CallbackRejected, ValueError) as exc:
        _mark(callback_id, "rejected")
        abort(400, str(exc) or "malformed callback")


def _handle(provider: str, event: CallbackEvent, callback_id: int) -> str:
    db = request_session()
    now = services().clock.now()
    stored, created = payment_flow.record_event(db, provider, event, callback_id, now)
    if created or stored.outcome in (None, "unconfirmed"):
        defer(db, "confirm-payment", str(stored.id), job_id=f"confirm-payment-{stored.id}")
        return "queued"
    return "duplicate"


def _mark(callback_id: int, outcome: str) -> None:
    """Best effort: the raw delivery is already stored; a failure here changes no answer."""
    session = request_session()
    try:
        row = session.get(PaymentCallback, callback_id)
        if row is not None:
            row.outcome = outcome
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("payment callback %s not marked %s", callback_id, outcome)
