"""`POST /ussd/africastalking` (ussd.md): the aggregator's hop, kept thin. The provider
adapter reads the form (gateway.providers.africastalking), the engine answers, this handler
guards, commits and audits.

Every answer the operator sees is a 200 `CON`/`END`: Redis down, a stuck session or a failed
commit give a short END apology (nothing half-done is committed). A request that cannot be a
hop gets a 400 with its reason, a caller without the token or outside the allowlist a 403."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, abort
from flask.blueprints import BlueprintSetupState
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.db import unpinged
from gateway.handlers import callback_form, guard_callback, request_session, runtime
from gateway.lib.phones import mask_msisdn, phone_key
from gateway.menus.engine.catalog import DEFAULT_LANGUAGE, Translator, all_budgets
from gateway.menus.engine.port import MalformedUssdRequest, UssdProvider, UssdReply, UssdRequest
from gateway.menus.engine.render import clean
from gateway.menus.engine.validate import check_menus
from gateway.menus.hop import Engine, store_errors
from gateway.providers.africastalking.ussd import AfricasTalkingUssd
from gateway.services import ussd_audit

log = logging.getLogger(__name__)
bp = Blueprint("ussd", __name__)
AFRICASTALKING = AfricasTalkingUssd()


@bp.record_once
def _validate_menus(state: BlueprintSetupState) -> None:
    """Refuse to start with menus that overflow a screen, miss a text or lead nowhere."""
    settings = state.app.extensions["gateway"].settings
    check_menus(frozenset(all_budgets(settings)))


@bp.post("/ussd/africastalking")
def africastalking() -> Response:
    return hop(AFRICASTALKING)


def hop(provider: UssdProvider) -> Response:
    """Any provider's hop: guard, parse, answer, one commit, then the audit row with the
    hop's time up to and including that commit (issue 19), format."""
    guard_callback()
    try:
        ussd_request = provider.parse(callback_form())
    except MalformedUssdRequest as exc:
        abort(400, str(exc))
    started = time.perf_counter()
    db = request_session()
    app = runtime()
    engine = Engine(app.redis, app.settings, app.clock)
    with unpinged():  # no ping per checkout: a dropped connection is retried (issue 19)
        reply = _answer(engine, db, ussd_request)
        reply = _commit(engine, db, ussd_request, reply)
        latency_ms = round((time.perf_counter() - started) * 1000)
        _audit(db, ussd_request, reply, latency_ms)
    body, content_type = provider.format(reply)
    return Response(body, status=200, content_type=content_type)


def _answer(engine: Engine, db: Session, ussd_request: UssdRequest) -> UssdReply:
    """The engine's reply, not yet committed; any failure is rolled back and apologised for.
    The pool does not ping a connection before each hop (a round trip per hop, issue 19): a
    connection found dropped is replaced and the hop run once more."""
    try:
        try:
            return engine.handle(db, ussd_request)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            db.rollback()
            log.info("ussd hop retried on a new connection (the pooled one was dropped)")
            return engine.handle(db, ussd_request)
    except store_errors() as exc:
        db.rollback()
        log.warning("ussd hop not served (session store): %s", type(exc).__name__)
    except Exception as exc:  # a bug must not show the operator's error screen: apologise, log
        db.rollback()
        if isinstance(exc, DBAPIError) and database_down(exc):  # an outage: one line
            log.warning("ussd hop not served (database unavailable): %s", _first_line(exc))
        else:
            log.exception("ussd hop failed session=%s", ussd_request.session_id)
    return _apology()


def _commit(engine: Engine, db: Session, ussd_request: UssdRequest, reply: UssdReply) -> UssdReply:
    """One commit per hop for its effects; a read-only hop's commit writes nothing."""
    try:
        db.commit()
    except SQLAlchemyError as exc:
        db.rollback()
        if isinstance(exc, DBAPIError) and database_down(exc):
            log.warning("ussd hop not committed (database unavailable): %s", _first_line(exc))
        else:
            log.exception("ussd hop not committed session=%s", ussd_request.session_id)
        _forget(engine, ussd_request)
        return _apology()
    return reply


def database_down(exc: DBAPIError) -> bool:
    """A database that does not answer (refused, restarting, a dropped connection), as
    opposed to a statement it refused: the member gets the apology either way, the log one
    line instead of a traceback per hop for as long as the outage lasts."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _forget(engine: Engine, ussd_request: UssdRequest) -> None:
    """The stored state claims effects that were rolled back: drop it so the next hop replays."""
    try:
        engine.forget(ussd_request)
    except store_errors():
        log.warning("ussd session not forgotten session=%s", ussd_request.session_id)


def _apology() -> UssdReply:
    t = Translator(DEFAULT_LANGUAGE)
    return UssdReply(clean(t("apology")), end=True, screen="apology")


def _audit(db: Session, req: UssdRequest, reply: UssdReply, latency_ms: int) -> None:
    """One audit row per hop, after the hop's commit, in a statement of its own that does not
    wait for the disk (ussd_audit.append_hop: a read-only screen pays no durable commit).
    The member already has the answer: a failure is logged, never shown. A pooled connection
    found dropped is replaced and the row written once more, as the hop itself is."""
    fields: ussd_audit.HopFields = {
        "provider": req.provider,
        "session_id": req.session_id,
        "phone": req.phone,
        "network": req.network_code,
        "service_code": req.service_code,
        "screen": reply.screen,
        "user_input": reply.logged_input,
        "reply": reply.text,
        "latency_ms": latency_ms,
        "mutual_id": reply.mutual_id,
        "phone_key": phone_key(runtime().settings.secret_key, req.phone),
    }
    try:
        try:
            ussd_audit.append_hop(db, **fields)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            db.rollback()
            ussd_audit.append_hop(db, **fields)
        db.commit()
    except Exception as exc:
        db.rollback()
        if isinstance(exc, DBAPIError) and database_down(exc):  # the hop's warning said it
            log.info("ussd hop not audited (database unavailable) phone=%s", mask_msisdn(req.phone))
        else:
            log.exception("ussd hop not audited phone=%s", mask_msisdn(req.phone))
