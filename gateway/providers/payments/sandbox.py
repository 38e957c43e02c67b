"""The sandbox payment provider (payments.md): a local stand-in for a remote provider, for
demos, training and tests. Its memory is the `sandbox_requests` table, reached through units
of work of its own (the process runtime's), so it behaves like a remote party: it never shares
the caller's transaction. A request is decided later (automatically by the worker, or by an
operator) and the decision is sent as a signed JSON callback to the request's notify URL."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.lib.redact import with_token, without_token
from gateway.models.payment_intent import SandboxRequest
from gateway.providers.payments import Host
from gateway.services.payments import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    InitiateResult,
    Initiation,
    PaymentRequest,
    ProviderState,
    StatusResult,
)

NAME = "sandbox"
SIGNATURE_HEADER = "X-Sandbox-Signature"
STATUSES = {"SUCCESSFUL": ProviderState.SUCCEEDED, "FAILED": ProviderState.FAILED}
MAX_AMOUNT = 2_000_000  # what a wallet may move at once (payment_intents.MAX_PAYMENT)
SEND_TIMEOUT_S = 10.0
_MSISDN = re.compile(r"\+[1-9][0-9]{6,14}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_FIELDS = ("reference", "provider_txn_id", "status", "amount", "currency", "msisdn")


class SandboxError(ValueError):
    """An operator's decision the sandbox cannot take (unknown reference, already decided)."""


@dataclass(frozen=True)
class SignedCallback:
    """A decision as the sandbox sends it: where, the raw JSON body and its signature."""

    url: str
    body: bytes
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", SIGNATURE_HEADER: self.signature}

    @property
    def shown_url(self) -> str:
        """The URL as messages may show it: without the callback token."""
        return without_token(self.url)


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body keyed by GATEWAY_SANDBOX_SECRET."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxProvider:
    """The PaymentProvider of the sandbox; its settings, clock and units of work are its
    host's (the runtime), so it connects on first use like the rest of the process."""

    name = NAME

    def __init__(self, host: Host) -> None:
        self.host = host
        self.settings = host.settings

    @property
    def clock(self) -> Clock:
        return self.host.clock

    # --- PaymentProvider -----------------------------------------------------------------

    def initiate(self, request: PaymentRequest) -> InitiateResult:
        """Records the request once per reference; a repeat is counted and accepted again
        with the same transaction id (like MTN's 409 on a retried X-Reference-Id)."""
        for _ in range(2):
            try:
                with self.host.session() as session:
                    row = _find(session, request.reference)
                    if row is None:
                        row = self._new_row(request)
                        session.add(row)
                    else:
                        row.requests += 1
                    return InitiateResult(Initiation.ACCEPTED, row.provider_txn_id)
            except IntegrityError:  # the same reference raced in: count it on the next turn
                continue
        return InitiateResult(Initiation.UNKNOWN, reason="sandbox could not record the request")

    def _new_row(self, request: PaymentRequest) -> SandboxRequest:
        return SandboxRequest(
            reference=request.reference,
            provider_txn_id=f"SBX-{uuid.uuid4().hex[:20].upper()}",
            amount=request.amount,
            currency=request.currency,
            msisdn=request.msisdn,
            notify_url=without_token(request.notify_url),  # added back when sent
            status="PENDING",
            requests=1,
            created_at=self.clock.now(),
        )

    def status(self, request: PaymentRequest) -> StatusResult:
        with self.host.session() as session:
            row = _find(session, request.reference)
            if row is None:
                return StatusResult(ProviderState.NOT_FOUND, reason="no such request")
            state = STATUSES.get(row.status, ProviderState.PENDING)
            return StatusResult(
                state,
                amount=row.amount,
                currency=row.currency,
                provider_txn_id=row.provider_txn_id,
                msisdn=row.msisdn,
                raw={"status": row.status, "requests": row.requests},
            )

    def parse_callback(self, request: CallbackRequest) -> CallbackEvent | None:
        """Signature first (ForgedCallback), then the JSON fields (CallbackRejected)."""
        if request.method == "GET" and not request.body:
            return None  # a ping: nothing to do
        given = _header(request.headers, SIGNATURE_HEADER)
        expected = sign(self.settings.sandbox_secret, request.body)
        # compare_digest refuses non-ASCII text (TypeError, a 500): compare the bytes.
        given_bytes = given.strip().lower().encode("utf-8", errors="replace")
        if not given or not hmac.compare_digest(given_bytes, expected.encode()):
            raise ForgedCallback(f"missing or wrong {SIGNATURE_HEADER}")
        data = _json_object(request.body)
        status = _text(data, "status", 10)
        if status not in STATUSES:
            raise CallbackRejected("status must be SUCCESSFUL or FAILED")
        txn = _text(data, "provider_txn_id", 64)
        return CallbackEvent(
            event_key=f"{txn}:{status}",
            reference=_text(data, "reference", 64),
            provider_txn_id=txn,
            state=STATUSES[status],
            amount=_amount(data.get("amount")),
            currency=_currency(data.get("currency")),
            msisdn=_msisdn(data.get("msisdn")),
            verified=True,
            needs_confirmation=False,
        )

    # --- the remote side: deciding and calling back --------------------------------------

    def decide(self, reference: str, approve: bool) -> SignedCallback:
        """Approve or reject a pending request and give its signed callback. Deciding again
        the same way gives the same callback (for a resend); the other way is refused."""
        wanted = "SUCCESSFUL" if approve else "FAILED"
        with self.host.session() as session:
            row = _find(session, reference, lock=True)
            if row is None:
                raise SandboxError(f"no sandbox payment request with reference {reference!r}")
            if row.status not in ("PENDING", wanted):
                raise SandboxError(f"payment request {reference} is already {row.status}")
            if row.status == "PENDING":
                row.status, row.decided_at = wanted, self.clock.now()
            return self._callback(row)

    def undecided(self, older_than_s: int, limit: int = 100) -> list[str]:
        """References still PENDING after `older_than_s` seconds (an auto decision lost)."""
        cutoff = self.clock.now() - dt.timedelta(seconds=older_than_s)
        with self.host.session() as session:
            query = (
                select(SandboxRequest.reference)
                .where(SandboxRequest.status == "PENDING", SandboxRequest.created_at <= cutoff)
                .order_by(SandboxRequest.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def pending(self, reference: str) -> bool:
        with self.host.session() as session:
            row = _find(session, reference)
            return row is not None and row.status == "PENDING"

    def _callback(self, row: SandboxRequest) -> SignedCallback:
        payload = {
            "reference": row.reference,
            "provider_txn_id": row.provider_txn_id,
            "status": row.status,
            "amount": row.amount,
            "currency": row.currency,
            "msisdn": row.msisdn,
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        url = with_token(row.notify_url, self.settings.ussd_token)
        return SignedCallback(url, body, sign(self.settings.sandbox_secret, body))

    def send(self, callback: SignedCallback, reference: str) -> int:
        """POST the callback to its notify URL; returns the HTTP status (raises OSError when
        nothing answered). Each delivery is counted on the request."""
        status = post(callback)
        with self.host.session() as session:
            row = _find(session, reference, lock=True)
            if row is not None:
                row.callbacks_sent += 1
        return status

    def decide_and_send(self, reference: str, approve: bool) -> int:
        return self.send(self.decide(reference, approve), reference)


def post(callback: SignedCallback, timeout: float = SEND_TIMEOUT_S) -> int:
    """A real HTTP POST (urllib: no extra dependency); 4xx/5xx are answers, not errors."""
    if not callback.url.startswith(("http://", "https://")):
        raise SandboxError(f"notify URL must be http(s), not {callback.shown_url!r}")
    req = urllib.request.Request(
        callback.url, data=callback.body, headers=callback.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def build(host: Host) -> SandboxProvider:
    return SandboxProvider(host)


# --- parsing ------------------------------------------------------------------------------


def _find(session: Session, reference: str, lock: bool = False) -> SandboxRequest | None:
    query = select(SandboxRequest).where(SandboxRequest.reference == reference)
    return session.scalars(query.with_for_update() if lock else query).first()


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CallbackRejected("body is not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise CallbackRejected("body must be a JSON object with " + ", ".join(_FIELDS))
    return data


def _text(data: Mapping[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CallbackRejected(f"{name} is required (a string)")
    if len(value) > limit:
        raise CallbackRejected(f"{name} longer than {limit} characters")
    return value.strip()


def _amount(value: object) -> int:
    """Whole XOF: a JSON integer or a string of digits; 100.5, 1e3, -5 and huge are refused."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CallbackRejected(f"amount must be a whole number of XOF, not {value!r}")
    if not 0 < value <= MAX_AMOUNT:
        raise CallbackRejected(f"amount must be between 1 and {MAX_AMOUNT} XOF, not {value}")
    return value


def _currency(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise CallbackRejected(f"currency must be a 3-letter code such as XOF, not {value!r}")
    return value


def _msisdn(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _MSISDN.fullmatch(value):
        raise CallbackRejected(f"msisdn must be E.164 such as +22670123412, not {value!r}")
    return value
