"""`gateway ussd simulate`: an interactive phone in the terminal, and `gateway ussd dropoff`.

The simulator plays the aggregator: one fresh sessionId per call, every input so far joined by
`*` in `text`, and an end-of-session notification when the call ends. It drives the app
in-process by default (no server needed) or a running gateway over HTTP with --url."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TextIO
from urllib.parse import urlencode

import click
from sqlalchemy import select

from gateway.cli.context import CliContext
from gateway.lib.phones import InvalidPhone, normalize_msisdn
from gateway.models import Mutual
from gateway.services.ussd_audit import dropoff_by_screen, session_outcomes

pass_ctx = click.make_pass_decorator(CliContext)
HOP_PATH = "/ussd/africastalking"
EVENTS_PATH = "/ussd/africastalking/events"
DEFAULT_SERVICE_CODE = "*144*7#"
DEFAULT_NETWORK = "61302"  # Orange Burkina Faso
DEFAULT_COUNTRY = "BF"
MAX_HOPS = 200  # a real session times out long before this
HTTP_TIMEOUT_S = 15.0
RULE = "-" * 40

# (path with query, form fields) -> (HTTP status, body)
Transport = Callable[[str, dict[str, str]], tuple[int, str]]


@dataclass
class SimulatedCall:
    """One USSD call as the aggregator sees it."""

    post: Transport
    phone: str
    service_code: str
    network: str
    token: str = ""
    session_id: str = field(default_factory=lambda: f"SIM{uuid.uuid4().hex}")
    inputs: list[str] = field(default_factory=list)
    hops: int = 0
    last: str = ""
    started: float = field(default_factory=time.monotonic)

    def hop(self, new_input: str | None) -> str:
        """Send the accumulated text (plus `new_input`); returns the reply, `CON`/`END` kept."""
        if new_input is not None:
            self.inputs.append(new_input)
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": self.network,
            "text": "*".join(self.inputs),
        }
        status, body = self.post(self._path(HOP_PATH), form)
        self.hops += 1
        if status != 200 or not body.startswith(("CON ", "END ")):
            self.notify("Failed", f"HTTP {status}: {body[:120]}")
            raise click.ClickException(f"the webhook answered HTTP {status}: {body.strip()[:200]}")
        self.last = body
        return body

    def notify(self, status: str, error: str = "") -> None:
        """The end-of-session notification; best effort, as the aggregator's."""
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.service_code,
            "phoneNumber": self.phone,
            "networkCode": self.network,
            "status": status,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "cost": "XOF 0.00",
            "durationInMillis": str(int((time.monotonic() - self.started) * 1000)),
            "hopsCount": str(self.hops),
            "input": "*".join(self.inputs),
            "lastAppResponse": self.last,
            "errorMessage": error,
        }
        with suppress(click.ClickException):
            self.post(self._path(EVENTS_PATH), form)

    def _path(self, path: str) -> str:
        return f"{path}?{urlencode({'token': self.token})}" if self.token else path


@click.group("ussd")
def ussd() -> None:
    """USSD channel: the terminal phone simulator and the audit's drop-off report."""


@ussd.command("simulate")
@click.option("--phone", required=True, help="The caller's phone, any usual notation.")
@click.option(
    "--service-code",
    default=None,
    help=f"Default: the first code a mutual declares, else {DEFAULT_SERVICE_CODE}.",
)
@click.option("--network", default=DEFAULT_NETWORK, show_default=True, help="networkCode sent.")
@click.option("--text", "first_text", default="", help="Inputs of a deep dial, e.g. 1*2.")
@click.option("--url", default=None, help="A running gateway, e.g. http://127.0.0.1:8000.")
@pass_ctx
def simulate(
    ctx: CliContext,
    phone: str,
    service_code: str | None,
    network: str,
    first_text: str,
    url: str | None,
) -> None:
    """Dial the service code from PHONE; type each answer, end with END, Ctrl-D or Ctrl-C."""
    msisdn = _msisdn(phone)
    service_code = service_code or (DEFAULT_SERVICE_CODE if url else _declared_code(ctx))
    with _transport(ctx, url) as (post, token, where):
        call = SimulatedCall(post, msisdn, service_code, network, token)
        click.echo(f"{msisdn} dials {service_code} ({where}; session {call.session_id})")
        converse(call, first_text, sys.stdin)


def _declared_code(ctx: CliContext) -> str:
    """The first service code a mutual of this database declares (a code no mutual declares
    gets "service not available"), else the default."""
    with ctx.session() as session:
        for codes in session.scalars(select(Mutual.service_codes).order_by(Mutual.id)):
            if codes:
                return str(codes[0])
    return DEFAULT_SERVICE_CODE


def converse(call: SimulatedCall, first_text: str, stdin: TextIO) -> None:
    """Show each screen, read the next input, until END, end of input or Ctrl-C."""
    reply = call.hop(first_text or None)
    for _ in range(MAX_HOPS):
        _show(reply)
        if reply.startswith("END "):
            call.notify("Success")
            return
        click.echo("> ", nl=False)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            line = ""
        if not line:
            call.notify("Incomplete")
            click.echo("\n(hung up)")
            return
        if not stdin.isatty():  # scripted input: show it as if typed
            click.echo(line.rstrip("\r\n"))
        reply = call.hop(line.rstrip("\r\n"))
    call.notify("Incomplete", "simulator hop limit")


def _show(reply: str) -> None:
    click.echo(RULE)
    click.echo(reply[4:])
    click.echo(f"{RULE} {'END' if reply.startswith('END ') else 'CON'} {len(reply) - 4} chars")


def _msisdn(raw: str) -> str:
    try:
        return normalize_msisdn(raw, DEFAULT_COUNTRY)
    except InvalidPhone as exc:
        raise click.BadParameter(str(exc), param_hint="--phone") from exc


@contextmanager
def _transport(ctx: CliContext, url: str | None) -> Iterator[tuple[Transport, str, str]]:
    """(post, token, description): over HTTP with --url, else the app in-process."""
    if url:
        yield _http(url), os.environ.get("GATEWAY_USSD_TOKEN", ""), url
        return
    settings = ctx.settings
    if settings.production:
        raise click.UsageError("in production, simulate against a server with --url")
    from gateway import migrate
    from gateway.app import create_app

    migrate.upgrade(settings.database_url)  # idempotent; a fresh checkout just works
    app = create_app(settings)
    logging.getLogger().setLevel(logging.WARNING)  # the screens, not the request log
    client = app.test_client()

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        answer = client.post(path, data=form)
        return answer.status_code, answer.get_data(as_text=True)

    try:
        yield post, settings.ussd_token, "in-process"
    finally:
        app.extensions["gateway"].close()


def _http(base: str) -> Transport:
    root = base.rstrip("/").removesuffix(HOP_PATH)

    def post(path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urlencode(form).encode()
        request = urllib.request.Request(root + path, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
                return int(answer.status), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except OSError as exc:
            raise click.ClickException(f"cannot reach {root}: {exc}") from exc

    return post


@ussd.command("dropoff")
@click.option("--days", type=click.IntRange(1, 3660), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def dropoff(ctx: CliContext, days: int, as_json: bool) -> None:
    """Sessions ended in the last DAYS days by status, and where dropped ones were (D22)."""
    since = ctx.clock.now() - dt.timedelta(days=days)
    with ctx.session() as session:
        outcomes = session_outcomes(session, since)
        screens = dropoff_by_screen(session, since)
    if as_json:
        data = {"since": since.isoformat(), "sessions": outcomes, "dropoff": dict(screens)}
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(" ".join(f"{status} {count}" for status, count in outcomes.items()))
    for screen, count in screens:
        click.echo(f"  {screen:<32} {count}")


COMMANDS = [ussd]
