"""`GET|POST|PUT /payments/<provider>/callback`: payment notifications (payments.md; PUT is how
MTN MoMo delivers its request-to-pay callbacks).

Order matters: the callback guard (token, IP allowlist), the raw delivery stored, then the
adapter's verdict: malformed -> 400 with the reason, forged -> 401 (no money moves), a ping ->
200. The event is recorded once and its effect applied by the worker (`confirm-payment`:
directly for a signed event, after a status query otherwise), so the provider gets its 2xx
fast; the sweeper re-enqueues events whose job was lost. The raw delivery, the verdict and the
event are one transaction (one commit per callback); if anything after the raw delivery fails,
the delivery is still stored on its own before the error is answered. Bad input is never a
5xx: every field of the adapter's event is checked against its column and for control
characters (400 with the reason), and a data error of the database is a 400 too; only a
database that does not answer is a 503 (the provider redelivers)."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import SQLAlchemyError

from gateway.handlers import guard_callback, refused_data, request_session, runtime
from gateway.models import PaymentCallback
from gateway.providers.payments import ADAPTERS
from gateway.providers.payments.common import check_event
from gateway.queueing import defer
from gateway.services import payments
from gateway.services.payments import (
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    PaymentProvider,
)

log = logging.getLogger(__name__)
bp = Blueprint("payments", __name__)
MAX_HEADERS = 100


@bp.route("/payments/<provider>/callback", methods=["GET", "POST", "PUT"])
def callback(provider: str) -> Response:
    guard_callback()
    adapter = _adapter(provider)
    session = request_session()
    now = runtime().clock.now()
    raw = _raw_request()
    try:
        stored = payments.store_callback(session, provider, raw, now)
        status, text = _process(adapter, provider, raw, stored, now)
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.exception("payment callback not stored provider=%s", provider)
        _keep_raw(provider, raw, now)
        if refused_data(exc):  # the data's fault: redelivering it would fail the same way
            abort(400, "a field of the callback cannot be stored")
        abort(503, "database unavailable, try again")
    except Exception:
        session.rollback()
        _keep_raw(provider, raw, now)
        raise
    if status != 200:
        abort(status, text)
    return Response(text, mimetype="text/plain")


def _process(
    adapter: PaymentProvider,
    provider: str,
    raw: CallbackRequest,
    stored: PaymentCallback,
    now: dt.datetime,
) -> tuple[int, str]:
    """The adapter's verdict, kept on the stored delivery, and the answer to give."""
    try:
        refuse_nul(raw)
        event = adapter.parse_callback(raw)
        event = check_event(event) if event is not None else None
    except ForgedCallback as exc:
        stored.outcome = "forged"
        log.warning("forged payment callback id=%s: %s", stored.id, exc)
        return 401, str(exc)
    except (CallbackRejected, ValueError) as exc:
        stored.outcome = "rejected"
        return 400, str(exc) or "malformed callback"
    if event is None:
        stored.outcome = "ping"
        return 200, "OK\n"
    db = request_session()
    recorded, created = payments.record_event(db, provider, event, stored.id, now)
    outcome = "duplicate"
    if created or recorded.outcome in (None, "unconfirmed"):
        defer(db, "confirm-payment", str(recorded.id), job_id=f"confirm-payment-{recorded.id}")
        outcome = "queued"
    log.info(
        "payment callback provider=%s id=%s reference=%s state=%s outcome=%s",
        provider,
        stored.id,
        event.reference,
        event.state.value,
        outcome,
    )
    return 200, f"OK {outcome}\n"


# NUL as it may arrive: raw, url-encoded in a form, escaped in JSON.
_NUL_SPELLINGS = (b"\x00", b"%00", b"\\u0000")


def refuse_nul(raw: CallbackRequest) -> None:
    """A delivery holding a NUL byte anywhere is refused (400) before any adapter reads it,
    signed or not: no provider sends one and PostgreSQL cannot store it (issue 15)."""
    body = raw.body.lower()
    values = [*raw.args.values(), *raw.form.values()]
    if any(nul in body for nul in _NUL_SPELLINGS) or any("\x00" in v for v in values):
        raise CallbackRejected("the callback contains a NUL byte")


def _keep_raw(provider: str, raw: CallbackRequest, now: dt.datetime) -> None:
    """Best effort after a failure: the delivery alone, marked, so nothing received is lost."""
    session = request_session()
    try:
        payments.store_callback(session, provider, raw, now).outcome = "error"
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("payment callback provider=%s not kept either", provider)


def _adapter(name: str) -> PaymentProvider:
    """The provider's adapter, built once per app (by its runtime); unknown or unavailable
    names are a 404."""
    app = runtime()
    if name not in app.payment_providers and name not in ADAPTERS:
        abort(404, f"unknown payment provider {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    try:
        return app.payment_provider(name)
    except (ImportError, ValueError) as exc:
        log.error("payment provider %s unavailable: %s", name, exc)
        abort(404, f"payment provider {name!r} is not available")


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
