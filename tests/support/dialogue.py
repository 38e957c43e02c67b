"""Scripted USSD sessions through the HTTP handler (architecture.md, Tests): a `Phone` plays
the aggregator (one sessionId per call, every input joined by `*`) and checks every reply:
HTTP 200, text/plain, `CON `/`END `, within the screen budget, GSM-7 only.

Fixtures `ussd_app` and `client` are imported by the dialogue test modules."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.clock import FixedClock
from gateway.menus.engine.render import GSM7
from gateway.settings import Settings
from tests.support.redis_url import redis_url_of

BUDGET = 160
SERVICE_CODE = "*144*7#"
NETWORK = "61302"
_sessions = itertools.count(1)


def make_ussd_app(
    database_url: str, redis_url: str, var_dir: Path, clock: FixedClock, **env: str
) -> Flask:
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "GATEWAY_VAR_DIR": str(var_dir),
            "GATEWAY_ENV": "test",
            **env,
        }
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    app.extensions["gateway"].clock = clock
    return app


@pytest.fixture
def ussd_app(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path, clock: FixedClock
) -> Iterator[Flask]:
    app = make_ussd_app(database_url, redis_url_of(redis_client), tmp_path / "var", clock)
    yield app
    app.extensions["gateway"].close()


@pytest.fixture
def client(ussd_app: Flask) -> FlaskClient:
    return ussd_app.test_client()


@dataclass(frozen=True)
class Reply:
    kind: str  # "CON" or "END"
    text: str

    @property
    def con(self) -> bool:
        return self.kind == "CON"

    @property
    def end(self) -> bool:
        return self.kind == "END"

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    def __contains__(self, fragment: str) -> bool:
        return fragment in self.text


def post_hop(client: FlaskClient, form: dict[str, str], query: str = "") -> Reply:
    """One hop, checked as the operator would: 200, text/plain, CON/END, budget, GSM-7."""
    answer = client.post(f"/ussd/africastalking{query}", data=form)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200, (answer.status_code, body)
    assert answer.mimetype == "text/plain"
    assert body.startswith(("CON ", "END ")), body
    kind, text = body[:3], body[4:]
    assert len(text) <= BUDGET, f"{len(text)} characters: {text!r}"
    assert set(text) <= GSM7, f"non GSM-7 characters in {text!r}"
    return Reply(kind, text)


@dataclass
class Phone:
    """One handset: `dial()` starts a call, `send(x)` types x and presses OK."""

    client: FlaskClient
    number: str
    service_code: str = SERVICE_CODE
    network: str = NETWORK
    session_id: str = ""
    query: str = ""  # e.g. "?token=..." when the app requires the callback token
    inputs: list[str] = field(default_factory=list)
    last: Reply | None = None

    def dial(self, deep: str = "") -> Reply:
        """A new session; `deep` is what a deep code such as *144*7*1# puts in `text`."""
        self.session_id = f"ATUid_test_{next(_sessions)}"
        self.inputs = deep.split("*") if deep else []
        return self._hop()

    def send(self, value: str) -> Reply:
        assert self.last is None or self.last.con, "the session is over"
        self.inputs.append(value)
        return self._hop()

    def resend(self) -> Reply:
        """The same hop again (a duplicate delivery)."""
        return self._hop()

    @property
    def text(self) -> str:
        return "*".join(self.inputs)

    def form(self, text: str | None = None) -> dict[str, str]:
        return {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.number,
            "networkCode": self.network,
            "text": self.text if text is None else text,
        }

    def _hop(self) -> Reply:
        self.last = post_hop(self.client, self.form(), self.query)
        return self.last

    def walk(self, *values: str) -> Reply:
        """Dial and type each value in turn; every reply is checked on the way."""
        reply = self.dial()
        for value in values:
            reply = self.send(value)
        return reply

    def pages(self) -> list[Reply]:
        """The current screen and every following page (`98`), until the last one."""
        assert self.last is not None
        found = [self.last]
        while _has_more(self.last):
            found.append(self.send("98"))
        return found


def _has_more(reply: Reply) -> bool:
    return any(line.startswith("98 ") for line in reply.lines)
