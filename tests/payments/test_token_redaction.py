"""The callback token (GATEWAY_USSD_TOKEN) is in no stored row and no log line (issue 15,
point 7): providers still call `?token=...` (interfaces.md, HTTP) and the sandbox still sends
it, but `payment_callbacks.query`, `sandbox_requests.notify_url`, the gateway's log lines
(werkzeug's request lines included) and gunicorn's access log never show it."""

from __future__ import annotations

import datetime as dt
import logging
import runpy
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.lib.redact import RedactingFormatter, redact, with_token, without_token
from gateway.models import Base, PaymentCallback
from tests.support.dialogue import Phone
from tests.support.paths import ROOT
from tests.support.payments import (
    PHONE,
    PayEnv,
    family,
    one_intent,
    sandbox_row,
    serve_gateway,
)

TOKEN = "cb-Tok3n-9f8e7d"
JAN_5 = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


class Lines(logging.Handler):
    """Every record as the gateway's own handler would write it, and its raw message."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(record.getMessage())
        self.lines.append(self.format(record))


@pytest.fixture
def tokened(
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[PayEnv]:
    """A gateway served over real HTTP with a callback token; the sandbox approves at once."""
    clock.at = JAN_5
    yield from serve_gateway(
        database_url,
        redis_client,
        tmp_path,
        clock,
        session_factory,
        monkeypatch,
        GATEWAY_USSD_TOKEN=TOKEN,
    )


@pytest.fixture
def lines() -> Iterator[Lines]:
    root = logging.getLogger()
    gateway = next(h for h in root.handlers if h.get_name() == "gateway")
    assert gateway.formatter is not None
    handler = Lines(gateway.formatter)
    root.addHandler(handler)
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.INFO)  # its request lines carry the full URL
    yield handler
    werkzeug.setLevel(level)
    root.removeHandler(handler)


def stored_text(factory: sessionmaker[Session]) -> list[str]:
    """Every string value of every row of every table."""
    found: list[str] = []
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            if columns:
                for row in session.execute(select(*columns)):
                    found.extend(str(v) for v in row if v is not None)
    return found


def test_a_paid_run_stores_and_logs_no_token(
    tokened: PayEnv, session_factory: sessionmaker[Session], lines: Lines
) -> None:
    family(session_factory, members=3)
    reply = Phone(tokened.client, PHONE, query=f"?token={TOKEN}").walk("2", "1", "1")
    assert reply.end
    tokened.work()  # initiate; the sandbox decides and POSTs its callback over HTTP
    intent = one_intent(session_factory)
    assert intent.state == "SUCCEEDED"  # the token still reached the gateway and was accepted
    row = sandbox_row(session_factory, intent.reference)
    assert row is not None and row.callbacks_sent == 1
    assert row.notify_url.endswith("/payments/sandbox/callback")
    assert f"token={TOKEN}" in tokened.sandbox()._callback(row).url  # sent with it
    with session_factory() as session:
        callback = session.scalars(select(PaymentCallback)).one()
        assert callback.query == ""
    values = stored_text(session_factory)
    assert values and not [v for v in values if TOKEN in v]
    assert any(TOKEN in raw for raw in lines.raw)  # werkzeug's request line had it ...
    assert not [line for line in lines.lines if TOKEN in line]  # ... no written line has it


def test_other_query_parameters_are_kept(tokened: PayEnv, db: Session) -> None:
    tokened.client.post(f"/payments/sandbox/callback?token={TOKEN}&x=1", data=b"{}")
    assert db.scalars(select(PaymentCallback.query)).one() == "x=1"


def test_gunicorn_access_log_has_no_query_string(capsys: pytest.CaptureFixture[str]) -> None:
    from gunicorn import glogging  # type: ignore[import-untyped]
    from gunicorn.config import Config  # type: ignore[import-untyped]

    cfg = Config()
    for key, value in runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py")).items():
        if key in cfg.settings:
            cfg.set(key, value)
    logger = glogging.Logger(cfg)
    written: list[str] = []
    capture = logging.Handler()
    capture.emit = lambda record: written.append(record.getMessage())  # type: ignore[method-assign]
    logger.access_log.addHandler(capture)
    url = f"/payments/sandbox/callback?token={TOKEN}"
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": url,
        "PATH_INFO": "/payments/sandbox/callback",
        "QUERY_STRING": f"token={TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = types.SimpleNamespace(status="200 OK", response_length=3, sent=3, headers=[])
    request = types.SimpleNamespace(headers=[("REFERER", f"https://x{url}")])
    logger.access(response, request, environ, dt.timedelta(milliseconds=12))
    assert written and "POST /payments/sandbox/callback HTTP/1.1" in written[0]
    assert TOKEN not in written[0] and TOKEN not in capsys.readouterr().out


def test_redaction_helpers() -> None:
    assert redact(f'"GET /cb?token={TOKEN}&a=1 HTTP/1.1"') == '"GET /cb?token=***&a=1 HTTP/1.1"'
    assert redact(f"url=http://h/cb?a=1&TOKEN={TOKEN}") == "url=http://h/cb?a=1&TOKEN=***"
    assert redact("no secrets here") == "no secrets here"
    assert without_token(f"http://h/cb?token={TOKEN}&a=1") == "http://h/cb?a=1"
    assert without_token("http://h/cb") == "http://h/cb"
    assert with_token("http://h/cb?a=1", "t") == "http://h/cb?a=1&token=t"
    assert with_token(f"http://h/cb?token={TOKEN}", "") == "http://h/cb"
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "to %s", (f"/cb?token={TOKEN}",), None
    )
    assert TOKEN not in RedactingFormatter("%(message)s").format(record)
