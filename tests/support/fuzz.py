"""A seeded generator of hostile HTTP requests for every route of the app (issue 15, acceptance
1), and the loop that sends them through Flask's test client and collects every 5xx.

Hostile means: random, oversized, NUL-laden, control-character and exotic unicode values;
wrong JSON types (objects, lists, huge numbers) where strings are expected; fields missing or
repeated; invalid JSON and invalid UTF-8; bodies above the size limit; wrong content types and
methods; bad, non-ASCII or *correct* signatures (so the checks behind the signature are reached
too) and tokens; ids drawn from a small pool so that deliveries repeat.

The same seed gives the same requests, so a failure is replayed by its seed and index."""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from werkzeug.routing import Rule
from wtforms.fields.core import UnboundField

from gateway.providers.payments.cinetpay import NOTIFY_FIELDS, notify_token
from gateway.providers.payments.sandbox import SIGNATURE_HEADER, sign

T = TypeVar("T")
CINETPAY_SECRET = "fuzz-cinetpay-secret"
PROVIDERS = ("sandbox", "cinetpay", "mtnmomo")
METHODS = ("GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS")
CONTENT_TYPES = (
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "",
    "ÿ/ÿ",
)
# The fields each provider callback reads (ussd.md, messaging.md, payments.md).
FORM_FIELDS = {
    "/ussd/africastalking": ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text"),
    "/ussd/africastalking/events": (
        "sessionId",
        "status",
        "phoneNumber",
        "networkCode",
        "serviceCode",
        "date",
        "cost",
        "durationInMillis",
        "hopsCount",
        "input",
        "lastAppResponse",
        "errorMessage",
    ),
    "/sms/africastalking/delivery": ("id", "status", "failureReason", "phoneNumber", "retryCount"),
    "/sms/africastalking/inbound": ("id", "from", "to", "text", "linkId", "networkCode", "date"),
    "/sms/africastalking/optout": ("phoneNumber", "senderId"),
    "/simulator/sms": ("phone",),
}
SANDBOX_FIELDS = ("reference", "provider_txn_id", "status", "amount", "currency", "msisdn")
MTN_FIELDS = ("externalId", "status", "amount", "currency", "financialTransactionId", "reason")
PLAUSIBLE = (
    "+22670123412",
    "22670123412",
    "+22665000000",
    "*144*7#",
    "*144#",
    "1*2",
    "1",
    "",
    "SUCCESSFUL",
    "FAILED",
    "PENDING",
    "Success",
    "Failed",
    "Rejected",
    "Completed",
    "Incomplete",
    "XOF",
    "00",
    "ACCEPTED",
    "6000",
    "61302",
    "2026-11-24 10:15:02.123",
    "STOP",
    "AIDE",
    "SOLDE",
)
EXOTIC = ("é", "٣", "👍", "\u202e", "\u0301", "\ufeff", "\ud7ff", "𝕏", "ß", "İ", "\u2028")
CONTROLS = "\x00\x01\x07\x08\x0b\x1b\x7f\x85\x9f\r\n\t"
PROGRESS_EVERY = 10_000
LONG = (4, 17, 33, 65, 101, 129, 201, 257, 2001, 5000)


@dataclass
class Outcome:
    """What a run saw: how many requests, by status, in how long, and every 5xx (replayable)."""

    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]

    def describe(self) -> str:
        return f"{self.method} {self.path}?{self.query[:200]} {self.headers} {self.body[:300]!r}"


class Generator:
    """Hostile requests for the app's routes, from one seed."""

    def __init__(
        self, app: Flask, seed: int, token: str = "", only: str | None = None,
        skip: Sequence[str] = (), csrf: str = "",
    ) -> None:  # fmt: skip
        """`only`: the routes of one family (first path segment); `skip`: rules left out;
        `csrf`: a signed-in session's token, sent with most console posts (so that they
        reach the forms' validators and the services behind them)."""
        self.rng = random.Random(seed)
        self.csrf = csrf
        # Rules by their first path segment, a family drawn first: the console's thirty
        # routes would otherwise leave the provider webhooks a fraction of the stream.
        families: dict[str, list[Rule]] = {}
        for rule in app.url_map.iter_rules():
            family = rule.rule.split("/")[1]
            if (only is None or family == only) and rule.rule not in skip:
                families.setdefault(family, []).append(rule)
        self.families = [families[name] for name in sorted(families)]
        self.token = token
        self.ids = [self._word(12) for _ in range(8)]  # repeated deliveries
        self.sandbox_secret = app.extensions["gateway"].settings.sandbox_secret

    def __iter__(self) -> Iterator[Hostile]:
        while True:
            yield self.request()

    def request(self) -> Hostile:
        rule = self.rng.choice(self.rng.choice(self.families))
        path = self._path(rule)
        allowed = sorted(rule.methods or ())
        method = self.rng.choice(allowed) if self.rng.random() < 0.85 else self._pick(METHODS)
        headers: dict[str, str] = {}
        body = b""
        if path.startswith("/payments/"):
            body, headers = self._payment(path)
        elif rule.rule in FORM_FIELDS:
            body = self._form(FORM_FIELDS[rule.rule])
            headers["Content-Type"] = CONTENT_TYPES[0]
        elif path.startswith("/console") and method == "POST":
            body = self._form(console_fields())
            if self.csrf and self.rng.random() < 0.9:
                body += b"&" + urlencode({"csrf_token": self.csrf}).encode()
            headers["Content-Type"] = CONTENT_TYPES[0]
        if self.rng.random() < 0.15:
            body = self._junk()
        if self.rng.random() < 0.15:
            headers["Content-Type"] = self._pick(CONTENT_TYPES)
        return Hostile(method, path, self._query(rule), body, headers)

    # -- parts ------------------------------------------------------------------------------

    def _path(self, rule: Rule) -> str:
        path = rule.rule
        for name in rule.arguments:
            value = self._pick(PROVIDERS) if self.rng.random() < 0.8 else self._word(8)
            if type(rule._converters.get(name)).__name__ == "IntegerConverter":
                value = str(self._pick((1, 2, 3, 4, 0, 2**63, 10**30)))  # rows that exist, too
            elif path.startswith("/console"):
                value = self._pick((*PLAUSIBLE, *self.ids, "%00", "x" * 300, "..%2F.."))
            if name == "filename":
                value = self._pick(("simulator.css", "../../etc/passwd", "x" * 300, "%00"))
            path = path.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
        return path

    def _query(self, rule: Rule) -> str:
        params: list[tuple[str, str]] = []
        roll = self.rng.random()
        if self.token and roll < 0.9:
            params.append(("token", self.token))
        elif roll < 0.95:
            params.append(("token", self._value()))
        if rule.rule in ("/simulator/sms",):
            params.append(("phone", self._value()))
        if self.rng.random() < 0.1:
            params.append((self._value(), self._value()))
        return urlencode(params)

    def _payment(self, path: str) -> tuple[bytes, dict[str, str]]:
        provider = path.split("/")[2]
        if provider == "cinetpay":
            form = {name: self._value() for name in NOTIFY_FIELDS if self.rng.random() < 0.95}
            headers = {"Content-Type": CONTENT_TYPES[0]}
            if self.rng.random() < 0.6:
                filled = {name: form.get(name, "") for name in NOTIFY_FIELDS}
                headers["x-token"] = notify_token(filled, CINETPAY_SECRET)
            elif self.rng.random() < 0.5:
                headers["x-token"] = self._header_value()
            return urlencode(form).encode(), headers
        fields = SANDBOX_FIELDS if provider == "sandbox" else MTN_FIELDS
        data: dict[str, Any] = {n: self._json_value() for n in fields if self.rng.random() < 0.9}
        if provider != "sandbox" and self.rng.random() < 0.7:
            data["payer"] = {"partyIdType": "MSISDN", "partyId": self._json_value()}
        body = json.dumps(data, ensure_ascii=self.rng.random() < 0.5).encode()
        headers = {"Content-Type": "application/json"}
        if provider == "sandbox":
            roll = self.rng.random()
            if roll < 0.6:
                headers[SIGNATURE_HEADER] = sign(self.sandbox_secret, body)
            elif roll < 0.9:
                headers[SIGNATURE_HEADER] = self._header_value()
        return body, headers

    def _form(self, names: tuple[str, ...]) -> bytes:
        pairs = [(n, self._value()) for n in names if self.rng.random() < 0.9]
        if pairs and self.rng.random() < 0.1:
            pairs.append(self.rng.choice(pairs))  # a field repeated
        if self.rng.random() < 0.05:
            pairs.append((self._value(), self._value()))
        return urlencode(pairs).encode()

    def _junk(self) -> bytes:
        roll = self.rng.random()
        if roll < 0.25:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(200)))
        if roll < 0.4:
            return b"x" * self.rng.choice((65 * 1024, 70_000))  # above the body limit
        if roll < 0.6:
            return self._pick((b"{", b"[]", b"null", b"1e999", b'{"a":', b"\xff\xfe", b"%ZZ=1"))
        if roll < 0.8:
            return json.dumps(self._json_value()).encode()
        return ("&".join(f"{self._value()}" for _ in range(5))).encode("utf-8", "surrogatepass")

    # -- values ------------------------------------------------------------------------------

    def _value(self) -> str:
        """A hostile string field."""
        roll = self.rng.random()
        if roll < 0.3:
            return self._pick(PLAUSIBLE + tuple(self.ids))
        if roll < 0.45:
            return self._word(self._pick(LONG))
        if roll < 0.6:
            return self._spiked(self._pick(PLAUSIBLE + tuple(self.ids)))
        if roll < 0.75:
            return "".join(self._pick(EXOTIC) for _ in range(self.rng.randrange(1, 20)))
        if roll < 0.85:
            return "+" + "".join(self.rng.choice(string.digits) for _ in range(self._pick(LONG)))
        return self._word(self.rng.randrange(0, 40))

    def _spiked(self, value: str) -> str:
        at = self.rng.randrange(len(value) + 1)
        return value[:at] + self._pick(CONTROLS) + value[at:]

    def _json_value(self) -> Any:
        roll = self.rng.random()
        if roll < 0.6:
            return self._value()
        choices: tuple[Callable[[], Any], ...] = (
            lambda: {"code": self._value(), "message": self._value()},
            lambda: [self._value()],
            lambda: self.rng.randrange(-(10**20), 10**20),
            lambda: self.rng.random() * 1e6,
            lambda: self._pick((True, False, None)),
            lambda: 6000,
            lambda: 10**400,
        )
        return self._pick(choices)()

    def _header_value(self) -> str:
        """A header value the test client can send (latin-1), often not ASCII."""
        return self._pick(("é" * 64, "\xff\xfe", "0" * 64, "", " ", "ü" + "a" * 300, "ab\tcd"))

    def _word(self, length: int) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(length))

    def _pick(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]


@cache
def console_fields() -> tuple[str, ...]:
    """Every field name of the console's forms: hostile posts reach their validators."""
    from gateway.console import forms

    names = {
        name
        for form in vars(forms).values()
        if isinstance(form, type) and issubclass(form, FlaskForm)
        for name, value in vars(form).items()
        if isinstance(value, UnboundField)
    }
    return tuple(sorted(names))


def send(
    app: Flask,
    seed: int,
    count: int,
    token: str = "",
    progress: Callable[[Outcome, float], None] | None = None,
    *,
    client: FlaskClient | None = None,
    generator: Generator | None = None,
) -> Outcome:
    """Send `count` requests of the seed's stream; every 5xx (or exception) is a failure.
    `progress` is told every PROGRESS_EVERY requests (a long run's figures survive a stop).
    `client`: a signed-in operator's, say; `generator`: one restricted to some routes."""
    client = client or app.test_client()
    outcome = Outcome()
    started = time.perf_counter()
    stream = generator or Generator(app, seed, token)
    for index, hostile in zip(range(count), stream, strict=False):
        try:
            answer = client.open(
                hostile.path,
                method=hostile.method,
                query_string=hostile.query,
                data=hostile.body,
                headers=hostile.headers,
            )
            status = answer.status_code
        except Exception as exc:  # a bug the app let through: a 500 in production
            status = 599
            hostile = Hostile(
                hostile.method, hostile.path, hostile.query, hostile.body, {"error": repr(exc)}
            )
        outcome.statuses[status] += 1
        if status >= 500 and len(outcome.failures) < 20:
            outcome.failures.append(f"seed={seed} #{index} {status}: {hostile.describe()}")
        outcome.requests += 1
        if progress is not None and outcome.requests % PROGRESS_EVERY == 0:
            progress(outcome, time.perf_counter() - started)
    outcome.seconds = time.perf_counter() - started
    return outcome
