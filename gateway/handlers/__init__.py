"""Thin Flask blueprints. Helpers here give handlers the app's runtime and one session per
request; the request decides when to commit, teardown only closes (and so rolls back)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar, cast

from flask import abort, current_app, g, request
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.providers.africastalking.form import MalformedForm
from gateway.runtime import Runtime

log = logging.getLogger(__name__)
EXTENSION = "gateway"
Parsed = TypeVar("Parsed")


def runtime() -> Runtime:
    """The app's runtime (settings, sessions, Redis, clock, providers), built by create_app()."""
    return cast(Runtime, current_app.extensions[EXTENSION])


def request_session() -> Session:
    """The request's session, opened on first use."""
    session = cast("Session | None", g.get("db_session"))
    if session is None:
        session = runtime().session_factory()
        g.db_session = session
    return session


@contextmanager
def committed(failure: str, *args: object) -> Iterator[Session]:
    """The request's session, committed when the block succeeds. A database failure is logged
    (`failure` % `args`) and answered 503 "try again": the provider redelivers the callback.
    A *data* error (a value the columns refuse) is the request's fault, not the database's:
    a 400, since redelivering the same data would fail the same way (issue 15)."""
    session = request_session()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        log.exception(failure, *args)
        if refused_data(exc):
            abort(400, "a field of the request cannot be stored")
        abort(503, "database unavailable, try again")


def refused_data(exc: SQLAlchemyError) -> bool:
    """True for an error caused by the values sent (too long, NUL byte, a constraint), as
    opposed to a database that does not answer (OperationalError: a 503)."""
    return isinstance(exc, DataError | IntegrityError)


def close_request_session(_exc: BaseException | None = None) -> None:
    """Teardown: close without committing; uncommitted work is rolled back."""
    session = cast("Session | None", g.pop("db_session", None))
    if session is not None:
        session.close()


def guard_callback() -> None:
    """Provider callbacks' protection (interfaces.md, HTTP): the optional IP allowlist, then
    the secret token of the callback URL, compared in constant time."""
    settings = runtime().settings
    if settings.allowed_ips and request.remote_addr not in settings.allowed_ips:
        abort(403, "caller address not allowed")
    if settings.ussd_token:
        given = request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), settings.ussd_token.encode()):
            abort(403, "missing or wrong token")


def callback_form() -> Mapping[str, str]:
    """The callback's url-encoded form. Werkzeug drops a body it cannot decode as UTF-8 (or one
    that is not a form at all) without a word: say so, rather than name a missing field. A
    form field repeated (`a=1&a=2`) is read once, the first value, as Werkzeug does."""
    if not request.form and request.content_length:
        abort(400, "the body is not a UTF-8 url-encoded form")
    return request.form


def read_form(parse: Callable[[Mapping[str, str]], Parsed]) -> Parsed:
    """The callback's form read by a provider's `parse`, before anything is stored: a 400 with
    the reader's reason, naming the field, when the form cannot be used."""
    try:
        return parse(callback_form())
    except MalformedForm as exc:
        abort(400, str(exc))
