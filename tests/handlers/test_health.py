"""The app factory and the probes: /healthz, /readyz (200 and 503), body limits, 4xx not 5xx."""

from __future__ import annotations

from flask import Flask, request
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.app import MAX_BODY_BYTES
from gateway.handlers import request_session, runtime
from gateway.models import Mutual
from gateway.runtime import Runtime
from tests.conftest import AppFactory
from tests.support.factories import make_mutual

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def test_the_runtime_is_stored_typed(make_app: AppFactory) -> None:
    app = make_app()
    svc = app.extensions["gateway"]
    assert isinstance(svc, Runtime)
    with app.app_context():
        assert runtime() is svc
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES


def test_healthz_always_answers_ok(make_app: AppFactory) -> None:
    app = make_app(DATABASE_URL=DEAD_DATABASE, REDIS_URL=DEAD_REDIS)
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200
    assert answer.get_data(as_text=True) == "ok"


def test_readyz_with_database_and_redis(make_app: AppFactory) -> None:
    answer = make_app().test_client().get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"database": "ok", "redis": "ok"}


def test_readyz_503_when_redis_is_down(make_app: AppFactory) -> None:
    answer = make_app(REDIS_URL=DEAD_REDIS).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"database": "ok", "redis": "unavailable"}


def test_readyz_503_when_database_is_unreachable(make_app: AppFactory) -> None:
    answer = make_app(DATABASE_URL=DEAD_DATABASE).test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"database": "unavailable", "redis": "ok"}


def _add_body_routes(app: Flask) -> None:
    app.add_url_rule("/echo", "echo", lambda: request.get_data(), methods=["POST"])
    app.add_url_rule("/form", "form", lambda: dict(request.form), methods=["POST"])
    app.add_url_rule("/json", "json", lambda: request.get_json(), methods=["POST"])


def test_oversized_body_is_413_plain_or_json(make_app: AppFactory) -> None:
    app = make_app()
    _add_body_routes(app)
    client = app.test_client()
    big = b"x" * (MAX_BODY_BYTES + 1)
    plain = client.post("/echo", data=big)
    assert plain.status_code == 413
    assert plain.mimetype == "text/plain"
    assert str(MAX_BODY_BYTES) in plain.get_data(as_text=True)
    form = client.post("/form", data={"text": "1" * (MAX_BODY_BYTES + 1)})
    assert form.status_code == 413
    as_json = client.post("/echo", data=big, headers={"Accept": "application/json"})
    assert as_json.status_code == 413
    assert as_json.get_json()["error"] == "Request Entity Too Large"
    assert client.post("/echo", data=b"x" * 100).status_code == 200


def test_malformed_input_is_4xx_with_a_reason(make_app: AppFactory) -> None:
    app = make_app()
    _add_body_routes(app)
    client = app.test_client()
    bad_json = client.post("/json", data=b"{not json", content_type="application/json")
    assert bad_json.status_code == 400
    assert bad_json.get_json()["reason"]
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.mimetype == "text/plain"
    assert client.post("/healthz").status_code == 405


def test_correlation_id_is_echoed_or_made(make_app: AppFactory) -> None:
    client = make_app().test_client()
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <>"}).headers["X-Request-ID"]
    assert made != "bad id <>" and len(made) == 32


def test_one_session_per_request_closed_without_commit(make_app: AppFactory) -> None:
    app = make_app()
    seen: list[Session] = []

    def view() -> str:
        session = request_session()
        assert request_session() is session
        make_mutual(session, code="NOPE")  # flushed, never committed
        seen.append(session)
        return "done"

    app.add_url_rule("/write", "write", view, methods=["POST"])
    assert app.test_client().post("/write").status_code == 200
    assert len(seen) == 1 and not seen[0].in_transaction()
    with app.extensions["gateway"].session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Mutual)) == 0
        assert session.execute(text("SELECT 1")).scalar() == 1
