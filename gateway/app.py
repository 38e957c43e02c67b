"""The Flask application factory: wires the runtime and the blueprints.

Nothing runs at import time: `create_app()` builds one Runtime per app (gateway.runtime), so
the web process, tests and gunicorn workers each own their engine and Redis client."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar, Token

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.console import init_console
from gateway.handlers import EXTENSION, close_request_session
from gateway.lib.redact import RedactingFormatter
from gateway.runtime import Runtime
from gateway.settings import Settings

MAX_BODY_BYTES = 64 * 1024
LOG_FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s cid=%(correlation_id)s %(message)s"
_CID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_correlation: ContextVar[str] = ContextVar("correlation_id", default="-")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application; `settings` defaults to the environment's."""
    settings = settings or Settings.from_env()
    configure_logging()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    _trust_proxies(app, settings.trusted_proxies)
    app.extensions[EXTENSION] = Runtime(settings, serial_reads=True)  # see SERIAL_READS
    app.before_request(_begin_request)
    app.after_request(_end_request)
    app.teardown_request(_reset_correlation)
    app.teardown_appcontext(close_request_session)
    app.register_error_handler(HTTPException, _http_error)
    _register_blueprints(app)
    init_console(app, production=settings.production)
    return app


def _trust_proxies(app: Flask, proxies: int) -> None:
    """The client address (the callbacks' IP allowlist reads it) and scheme as the trusted
    proxies saw them: X-Forwarded-For/-Proto are read only `proxies` hops deep, from the
    right, so an address a client writes into the header itself is never believed. With 0
    (no proxy) the socket peer is the client and the headers are ignored."""
    if proxies > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=0, x_port=0, x_prefix=0
        )


def _register_blueprints(app: Flask) -> None:
    from gateway.handlers.health import bp as health_bp
    from gateway.handlers.payments import bp as payments_bp
    from gateway.handlers.simulator import bp as simulator_bp
    from gateway.handlers.sms import bp as sms_bp
    from gateway.handlers.ussd import bp as ussd_bp
    from gateway.handlers.ussd_events import bp as ussd_events_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(ussd_bp)
    app.register_blueprint(ussd_events_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(simulator_bp)


# --- errors -------------------------------------------------------------------------------


def _http_error(exc: HTTPException) -> Response:
    """Every HTTP error, malformed input included, answers with its own status and a reason."""
    code = exc.code or 500
    reason = exc.description or exc.name
    if code == 413:
        reason = f"request body larger than {MAX_BODY_BYTES} bytes"
    if _wants_json():
        body = json.dumps({"error": exc.name, "reason": reason})
        return Response(body, status=code, mimetype="application/json")
    return Response(f"{exc.name}: {reason}\n", status=code, mimetype="text/plain")


def _wants_json() -> bool:
    """JSON for JSON clients, and always under /api/ (a path no API route matches, an id that
    is not an integer: the API answers JSON like every error of its own)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/plain", "application/json"])
    return request.is_json or best == "application/json"


# --- logging and correlation ids ----------------------------------------------------------


class CorrelationFilter(logging.Filter):
    """Adds the current correlation id (request, job, session) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation.get()
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """One key=value line per record on stderr; idempotent, and leaves other handlers alone."""
    root = logging.getLogger()
    if any(h.get_name() == "gateway" for h in root.handlers):
        return
    # The process's own stderr, not whatever sys.stderr is now: a command run inside another
    # program (click's test runner) swaps sys.stderr for a stream closed once it returns.
    handler = logging.StreamHandler(sys.__stderr__)
    handler.set_name("gateway")
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))  # no callback token in any line
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)


def correlation_id() -> str:
    return _correlation.get()


@contextmanager
def correlated(cid: str | None = None) -> Iterator[str]:
    """Run a block (a job, a command) under one correlation id."""
    token = _correlation.set(cid or uuid.uuid4().hex)
    try:
        yield _correlation.get()
    finally:
        _correlation.reset(token)


def _begin_request() -> None:
    raw = request.headers.get("X-Request-ID", "")
    g.correlation_token = _correlation.set(raw if _CID_RE.fullmatch(raw) else uuid.uuid4().hex)


def _end_request(response: Response) -> Response:
    response.headers["X-Request-ID"] = _correlation.get()
    return response


def _reset_correlation(_exc: BaseException | None) -> None:
    token: Token[str] | None = g.pop("correlation_token", None)
    if token is not None:
        with suppress(ValueError):  # created in another context: nothing to restore
            _correlation.reset(token)
