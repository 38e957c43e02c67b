"""A local MTN MoMo Collection API following momodeveloper.mtn.com, scriptable per payment.

Endpoints:
- `POST /collection/token/`: basic auth API user / API key and `Ocp-Apim-Subscription-Key`,
  else 401; answers `{"access_token", "token_type": "access_token", "expires_in"}` (`token_ttl`
  seconds). `revoke_tokens()` makes every issued token answer 401 (expiry before the TTL).
- `POST /collection/v1_0/requesttopay`: bearer token, subscription key, `X-Target-Environment`,
  `X-Reference-Id` (a UUID, else 400), body `{amount (string), currency, externalId, payer
  {partyIdType MSISDN, partyId digits}, payerMessage, payeeNote}` (else 400 with a code);
  `202` empty; a repeated X-Reference-Id gets `409 RESOURCE_ALREADY_EXIST` and changes nothing.
- `GET /collection/v1_0/requesttopay/{referenceId}`: `200 {amount, currency,
  financialTransactionId (when SUCCESSFUL), externalId, payer, payerMessage, payeeNote, status,
  reason (when FAILED)}` or `404 RESOURCE_NOT_FOUND`.
- Callbacks: `callback_body(ref)`; `send_callback(ref, url=None, method="PUT", status=None)`
  sends it (unsigned, like MTN) to the payment's `X-Callback-Url`.

Scripting (`fake.script(external_id, **fields of Script)` keyed by our reference, the payment's
externalId; or `fake.default`):
- `outcome`: "SUCCESSFUL" | "FAILED" | "PENDING" (stuck); `reason` for FAILED
- `pending_polls`: status answers PENDING before the outcome (delayed success)
- `not_found_polls`: status answers 404 although the request was accepted (202-then-404)
- `amount`: the amount MTN reports, e.g. "100.5", "1e3", "-5"
- `initiate_http`: answer requesttopay with that status (a 4xx refuses and keeps nothing; a 5xx
  keeps the payment, as if it was processed anyway: resolve by status); `initiate_delay`: answer
  only after that many seconds (the payment is kept: a client timeout)
- `status_http` / `status_delay`: the same for status queries
- `callbacks`: callbacks sent automatically `callback_delay` s after acceptance (duplicates
  when > 1; 0 = none), with `callback_method`.

Every request is in `fake.requests` / `fake.received(method, path)`; payments in
`fake.payments` (by X-Reference-Id); `fake.by_external(ref)` finds one by our reference."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from tests.support.fakes.server import FakeServer, Recorded, Reply

RTP = "/collection/v1_0/requesttopay"


@dataclass
class Script:
    outcome: str = "SUCCESSFUL"
    reason: str = "APPROVAL_REJECTED"
    pending_polls: int = 0
    not_found_polls: int = 0
    amount: str | None = None
    initiate_http: int | None = None
    initiate_delay: float = 0.0
    status_http: int | None = None
    status_delay: float = 0.0
    callbacks: int = 0
    callback_delay: float = 0.05
    callback_method: str = "PUT"


@dataclass
class Payment:
    reference_id: str
    body: dict[str, Any]
    callback_url: str | None
    script: Script
    polls: int = 0
    financial_id: str = field(default_factory=lambda: str(uuid.uuid4().int)[:10])


class MtnMomoFake(FakeServer):
    def __init__(
        self,
        subscription_key: str = "sub-key",
        api_user: str = "3f2a1c4e-0000-4000-8000-000000000001",
        api_key: str = "api-key",
        target_environment: str = "sandbox",
        token_ttl: int = 3600,
    ) -> None:
        super().__init__()
        self.subscription_key, self.api_user, self.api_key = subscription_key, api_user, api_key
        self.target_environment = target_environment
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.default = Script()
        self.scripts: dict[str, Script] = {}
        self.payments: dict[str, Payment] = {}
        self.callback_results: list[int] = []

    def script(self, external_id: str, **fields: Any) -> Script:
        self.scripts[external_id] = replace(self.default, **fields)
        return self.scripts[external_id]

    def by_external(self, external_id: str) -> Payment:
        return next(p for p in self.payments.values() if p.body.get("externalId") == external_id)

    def settle(self, external_id: str, outcome: str, reason: str = "APPROVAL_REJECTED") -> None:
        payment = self.by_external(external_id)
        payment.script = replace(payment.script, outcome=outcome, reason=reason)

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def handle(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/collection/token/":
            return self._token(request)
        if request.path == RTP or request.path.startswith(RTP + "/"):
            refused = self._unauthorised(request)
            if refused:
                return refused
            if request.method == "POST" and request.path == RTP:
                return self._request_to_pay(request)
            if request.method == "GET":
                return self._status(request.path.removeprefix(RTP + "/"))
        return Reply(404, {"code": "RESOURCE_NOT_FOUND", "message": "Unknown path"})

    # -- API -----------------------------------------------------------------------------

    def _token(self, request: Recorded) -> Reply:
        expected = base64.b64encode(f"{self.api_user}:{self.api_key}".encode()).decode()
        if (
            request.headers.get("authorization") != f"Basic {expected}"
            or request.headers.get("ocp-apim-subscription-key") != self.subscription_key
        ):
            return Reply(401, {"error": "login_failed"})
        token = uuid.uuid4().hex
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
        return Reply(
            200, {"access_token": token, "token_type": "access_token", "expires_in": self.token_ttl}
        )

    def _unauthorised(self, request: Recorded) -> Reply | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            alive = self.tokens.get(token, 0.0) > time.monotonic()
        if not alive or request.headers.get("ocp-apim-subscription-key") != self.subscription_key:
            return Reply(
                401, {"code": "Unauthorized", "message": "Access token is missing or invalid"}
            )
        if request.headers.get("x-target-environment") != self.target_environment:
            return Reply(
                400, {"code": "INVALID_TARGET_ENVIRONMENT", "message": "Unknown environment"}
            )
        return None

    def _request_to_pay(self, request: Recorded) -> Reply:
        ref = request.headers.get("x-reference-id", "")
        try:
            uuid.UUID(ref)
        except ValueError:
            return Reply(
                400, {"code": "INVALID_REFERENCE_ID", "message": "X-Reference-Id must be a UUID"}
            )
        try:
            body = request.json()
        except ValueError:
            body = None
        problem = _invalid(body)
        if problem:
            return Reply(400, {"code": "INVALID_PARAMETER", "message": problem})
        assert isinstance(body, dict)
        script = self.scripts.get(str(body["externalId"]), self.default)
        if script.initiate_http and script.initiate_http < 500:  # refused: nothing kept
            return Reply(
                script.initiate_http,
                {"code": "PAYER_NOT_FOUND", "message": "Scripted refusal"},
                delay=script.initiate_delay,
            )
        with self.lock:
            if ref in self.payments:
                return Reply(
                    409,
                    {
                        "code": "RESOURCE_ALREADY_EXIST",
                        "message": "Duplicated reference id. Creation of resource failed.",
                    },
                )
            payment = self.payments[ref] = Payment(
                ref, body, request.headers.get("x-callback-url"), script
            )
        if script.initiate_http:  # a 5xx after the payment was recorded: the outcome is unknown
            return Reply(
                script.initiate_http,
                {"code": "INTERNAL_PROCESSING_ERROR", "message": "An internal error occurred"},
                delay=script.initiate_delay,
            )
        self._schedule_callbacks(payment)
        return Reply(202, None, delay=script.initiate_delay)

    def _status(self, ref: str) -> Reply:
        with self.lock:
            payment = self.payments.get(ref)
            if payment is not None:
                payment.polls += 1
        script = payment.script if payment else self.default
        if script.status_http:
            return Reply(
                script.status_http, {"code": "INTERNAL_PROCESSING_ERROR"}, delay=script.status_delay
            )
        if payment is None or payment.polls <= script.not_found_polls:
            return Reply(
                404,
                {"code": "RESOURCE_NOT_FOUND", "message": "Requested resource was not found."},
                delay=script.status_delay,
            )
        body = self.callback_body(payment.body["externalId"], self.status_of(payment))
        return Reply(200, body, delay=script.status_delay)

    def status_of(self, payment: Payment) -> str:
        script = payment.script
        if (
            script.outcome == "PENDING"
            or payment.polls - script.not_found_polls <= script.pending_polls
        ):
            return "PENDING"
        return script.outcome

    # -- callbacks -----------------------------------------------------------------------

    def callback_body(self, external_id: str, status: str | None = None) -> dict[str, Any]:
        """The requesttopay object as MTN shows it (status answer and callback body); the
        status defaults to the scripted outcome."""
        payment = self.by_external(external_id)
        status = status or payment.script.outcome
        body: dict[str, Any] = {
            "amount": payment.script.amount
            if payment.script.amount is not None
            else payment.body["amount"],
            "currency": payment.body["currency"],
            "externalId": payment.body["externalId"],
            "payer": payment.body["payer"],
            "payerMessage": payment.body.get("payerMessage", ""),
            "payeeNote": payment.body.get("payeeNote", ""),
            "status": status,
        }
        if status == "SUCCESSFUL":
            body["financialTransactionId"] = payment.financial_id
        if status == "FAILED":
            body["reason"] = payment.script.reason
        return body

    def send_callback(
        self,
        external_id: str,
        url: str | None = None,
        *,
        method: str = "PUT",
        status: str | None = None,
        body: Any = None,
    ) -> int:
        payment = self.by_external(external_id)
        target = url or payment.callback_url
        assert target, "no X-Callback-Url was given for this payment"
        payload = body if body is not None else self.callback_body(external_id, status)
        answer = requests.request(method, target, json=payload, timeout=5)
        self.callback_results.append(answer.status_code)
        return answer.status_code

    def _schedule_callbacks(self, payment: Payment) -> None:
        script = payment.script
        if not script.callbacks or not payment.callback_url:
            return
        outcome = script.outcome if script.outcome != "PENDING" else "PENDING"

        def deliver() -> None:
            time.sleep(script.callback_delay)
            for _ in range(script.callbacks):
                try:
                    self.send_callback(
                        payment.body["externalId"], method=script.callback_method, status=outcome
                    )
                except requests.RequestException:
                    self.callback_results.append(0)

        threading.Thread(target=deliver, daemon=True).start()


def _invalid(body: Any) -> str | None:
    """What MTN would refuse in a requesttopay body, or None."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    amount = body.get("amount")
    if not isinstance(amount, str) or not amount.isdigit() or int(amount) <= 0:
        return "amount must be a positive number in a string"
    for name in ("currency", "externalId"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} is required"
    payer = body.get("payer")
    if not isinstance(payer, dict) or payer.get("partyIdType") != "MSISDN":
        return "payer.partyIdType must be MSISDN"
    party = payer.get("partyId")
    if not isinstance(party, str) or not party.isdigit():
        return "payer.partyId must be the MSISDN in digits, without +"
    return None
