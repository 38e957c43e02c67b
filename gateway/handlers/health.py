"""Liveness and readiness probes for load balancers, systemd and `gateway run`."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import Engine, text

from gateway.handlers import runtime

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: nothing else is checked, so a slow database never kills it."""
    return Response("ok", mimetype="text/plain")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the database answers `SELECT 1` and Redis answers PING; 503 names the failure."""
    app = runtime()
    checks = {"database": _check_database(app.engine), "redis": _check_redis(app.redis)}
    ready = all(state == "ok" for state in checks.values())
    return jsonify(checks), 200 if ready else 503


def _check_database(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a probe reports, it never raises
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"


def _check_redis(client: redis.Redis[bytes]) -> str:
    try:
        client.ping()
    except Exception as exc:
        log.warning("readiness: redis unavailable: %s", type(exc).__name__)
        return "unavailable"
    return "ok"
