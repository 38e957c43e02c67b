"""Thin Flask blueprints. Helpers here give handlers the app's services and one session per
request; the request decides when to commit, teardown only closes (and so rolls back)."""

from __future__ import annotations

import hmac
from typing import cast

from flask import abort, current_app, g, request
from sqlalchemy.orm import Session

from gateway.runtime import Runtime

EXTENSION = "gateway"


def services() -> Runtime:
    """The app's runtime (settings, sessions, Redis, clock, providers), built by create_app()."""
    return cast(Runtime, current_app.extensions[EXTENSION])


def request_session() -> Session:
    """The request's session, opened on first use."""
    session = cast("Session | None", g.get("db_session"))
    if session is None:
        session = services().session_factory()
        g.db_session = session
    return session


def close_request_session(_exc: BaseException | None = None) -> None:
    """Teardown: close without committing; uncommitted work is rolled back."""
    session = cast("Session | None", g.pop("db_session", None))
    if session is not None:
        session.close()


def guard_callback() -> None:
    """Provider callbacks' protection (interfaces.md, HTTP): the optional IP allowlist, then
    the secret token of the callback URL, compared in constant time."""
    settings = services().settings
    if settings.allowed_ips and request.remote_addr not in settings.allowed_ips:
        abort(403, "caller address not allowed")
    if settings.ussd_token:
        given = request.args.get("token", "")
        if not hmac.compare_digest(given.encode(), settings.ussd_token.encode()):
            abort(403, "missing or wrong token")
