"""MTN MoMo Collection API, "request to pay" (momodeveloper.mtn.com).

- token: `POST /collection/token/` with basic auth (API user, API key) and the subscription
  key; the bearer token is cached until shortly before `expires_in` runs out.
- initiate: `POST /collection/v1_0/requesttopay` with `X-Reference-Id` = a UUID derived from
  our reference (the same on every retry): `202` accepted, `409` on a repeated id means MTN
  already has it, so it is accepted too and nothing is sent twice.
- status: `GET /collection/v1_0/requesttopay/{X-Reference-Id}`: PENDING, SUCCESSFUL or FAILED;
  `404` means the request never arrived (safe to initiate again with the same id).
- callbacks (PUT or POST to `X-Callback-Url`, the same JSON as the status answer) are unsigned:
  never trusted, always confirmed with `status()`."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

from gateway.providers.payments import Host
from gateway.providers.payments.common import (
    HTTP_TIMEOUT_S,
    InvalidAmount,
    check_request_amount,
    json_object,
    msisdn_digits,
    parse_amount,
)
from gateway.services.payments import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    InitiateResult,
    Initiation,
    InvalidProviderAnswer,
    PaymentRequest,
    ProviderError,
    ProviderState,
    StatusResult,
)

STATES = {
    "PENDING": ProviderState.PENDING,
    "SUCCESSFUL": ProviderState.SUCCEEDED,
    "FAILED": ProviderState.FAILED,
    "REJECTED": ProviderState.FAILED,
    "TIMEOUT": ProviderState.FAILED,
}
# A fixed namespace: references that are not UUIDs map to the same UUID on every retry.
REFERENCE_NAMESPACE = uuid.UUID("4f1c6a52-5d0e-4d8e-9a53-7b7f3c0a9e21")
TOKEN_MARGIN_S = 60.0

# (base_url, api_user, api_key) -> (access token, monotonic expiry): shared by every adapter of
# the process, since the registry builds a new adapter per use.
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


class _TokenError(Exception):
    def __init__(self, reason: str, definitive: bool) -> None:
        super().__init__(reason)
        self.definitive = definitive


def reference_id(reference: str) -> str:
    """The X-Reference-Id for our reference: itself when it is a UUID, else a UUID5 of it."""
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        return str(uuid.uuid5(REFERENCE_NAMESPACE, reference))


def clear_token_cache() -> None:
    with _TOKENS_LOCK:
        _TOKENS.clear()


class MtnMomo:
    name = "mtnmomo"

    def __init__(
        self,
        subscription_key: str,
        api_user: str,
        api_key: str,
        target_environment: str,
        base_url: str,
        *,
        timeout: tuple[float, float] = HTTP_TIMEOUT_S,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subscription_key = subscription_key
        self.api_user = api_user
        self.api_key = api_key
        self.target_environment = target_environment
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()
        self.clock = clock

    # -- token ---------------------------------------------------------------------------

    @property
    def _cache_key(self) -> tuple[str, str, str]:
        return (self.base_url, self.api_user, self.api_key)

    def _token(self) -> str:
        with _TOKENS_LOCK:
            cached = _TOKENS.get(self._cache_key)
        if cached and cached[1] > self.clock():
            return cached[0]
        token, lifetime = self._new_token()
        with _TOKENS_LOCK:
            _TOKENS[self._cache_key] = (token, self.clock() + lifetime)
        return token

    def forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop(self._cache_key, None)

    def _new_token(self) -> tuple[str, float]:
        try:
            response = self.http.post(
                f"{self.base_url}/collection/token/",
                auth=(self.api_user, self.api_key),
                headers={"Ocp-Apim-Subscription-Key": self.subscription_key},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise _TokenError(f"token request failed: {exc}", definitive=False) from exc
        if response.status_code != 200:
            definitive = 400 <= response.status_code < 500 and response.status_code != 429
            raise _TokenError(f"token refused: HTTP {response.status_code}", definitive)
        body = json_object(response) or {}
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise _TokenError("token answer has no access_token", definitive=False)
        try:
            seconds = max(float(expires_in), 0.0)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            seconds = 0.0  # unreadable lifetime: use the token once, do not cache it
        return token, max(seconds - min(TOKEN_MARGIN_S, seconds / 10), 0.0)

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": self.subscription_key,
            "X-Target-Environment": self.target_environment,
        }

    def _send(
        self, method: str, path: str, extra: Mapping[str, str], **kw: Any
    ) -> requests.Response:
        """One authorised call; a 401 (expired or revoked token) renews it and tries once more,
        which is safe because MTN did not process the refused call."""
        response = None
        for _attempt in range(2):
            headers = {**self._headers(self._token()), **extra}
            response = self.http.request(
                method, f"{self.base_url}{path}", headers=headers, timeout=self.timeout, **kw
            )
            if response.status_code != 401:
                return response
            self.forget_token()
        assert response is not None
        return response

    # -- initiate ------------------------------------------------------------------------

    def initiate(self, request: PaymentRequest) -> InitiateResult:
        problem = self._refusal(request)
        if problem:
            return InitiateResult(Initiation.REJECTED, reason=problem)
        extra = {"X-Reference-Id": reference_id(request.reference)}
        if request.notify_url:
            extra["X-Callback-Url"] = request.notify_url
        body = {
            "amount": str(request.amount),
            "currency": request.currency,
            "externalId": request.reference,
            "payer": {"partyIdType": "MSISDN", "partyId": msisdn_digits(request.msisdn)},
            "payerMessage": request.description[:160],
            "payeeNote": request.reference,
        }
        try:
            response = self._send("POST", "/collection/v1_0/requesttopay", extra, json=body)
        except _TokenError as exc:
            outcome = Initiation.REJECTED if exc.definitive else Initiation.UNKNOWN
            return InitiateResult(outcome, reason=f"not sent: {exc}")
        except requests.RequestException as exc:  # it may have arrived: status() will tell
            return InitiateResult(Initiation.UNKNOWN, reason=f"no answer: {exc}")
        if response.status_code == 202:
            return InitiateResult(Initiation.ACCEPTED)
        if response.status_code == 409:
            return InitiateResult(Initiation.ACCEPTED, reason="already received (409)")
        if response.status_code >= 500:
            return InitiateResult(Initiation.UNKNOWN, reason=_describe(response))
        return InitiateResult(Initiation.REJECTED, reason=_describe(response))

    def _refusal(self, request: PaymentRequest) -> str | None:
        if not (self.subscription_key and self.api_user and self.api_key):
            return "MTNMOMO_SUBSCRIPTION_KEY, MTNMOMO_API_USER and MTNMOMO_API_KEY must be set"
        problem = check_request_amount(request.amount)
        if problem:
            return problem
        try:
            msisdn_digits(request.msisdn)
        except ValueError as exc:
            return str(exc)
        return None

    # -- status --------------------------------------------------------------------------

    def status(self, request: PaymentRequest) -> StatusResult:
        path = f"/collection/v1_0/requesttopay/{reference_id(request.reference)}"
        try:
            response = self._send("GET", path, {})
        except (_TokenError, requests.RequestException) as exc:
            raise ProviderError(f"MTN status query failed: {exc}") from exc
        if response.status_code == 404:
            return StatusResult(ProviderState.NOT_FOUND, reason=_describe(response))
        body = json_object(response)
        if response.status_code != 200 or body is None:
            raise ProviderError(f"MTN status query: {_describe(response)}")
        try:
            return _status_result(body)
        except (InvalidAmount, ValueError) as exc:
            raise InvalidProviderAnswer(f"MTN status answer: {exc}") from exc

    # -- callbacks -----------------------------------------------------------------------

    def parse_callback(self, request: CallbackRequest) -> CallbackEvent | None:
        method = request.method.upper()
        if method not in ("PUT", "POST"):
            raise CallbackRejected(f"MTN callbacks are PUT or POST, not {method}")
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CallbackRejected("callback body is not JSON") from exc
        if not isinstance(body, dict):
            raise CallbackRejected("callback body is not a JSON object")
        reference = body.get("externalId")
        if not isinstance(reference, str) or not reference.strip():
            raise CallbackRejected("callback has no externalId (our reference)")
        try:
            result = _status_result(body)
        except (InvalidAmount, ValueError) as exc:
            raise CallbackRejected(str(exc)) from exc
        status = str(body.get("status"))
        return CallbackEvent(
            event_key=f"{reference}:{status}:{result.provider_txn_id or ''}",
            reference=reference,
            provider_txn_id=result.provider_txn_id,
            state=result.state,
            amount=result.amount,
            currency=result.currency,
            msisdn=result.msisdn,
            verified=False,  # MTN does not sign callbacks
            needs_confirmation=True,
            reason=result.reason,
        )


def _status_result(body: Mapping[str, Any]) -> StatusResult:
    """The documented requesttopay object; raises ValueError / InvalidAmount when unreadable."""
    status = body.get("status")
    if not isinstance(status, str) or status not in STATES:  # an object is not hashable
        raise ValueError(f"unknown status {str(status)[:40]!r}")
    state = STATES[str(status)]
    amount = parse_amount(body.get("amount"))
    currency = body.get("currency")
    if not isinstance(currency, str) or not currency:
        raise ValueError("missing currency")
    txn = body.get("financialTransactionId")
    payer = body.get("payer") if isinstance(body.get("payer"), dict) else {}
    party = payer.get("partyId") if isinstance(payer, dict) else None
    return StatusResult(
        state,
        amount=amount,
        currency=currency,
        provider_txn_id=str(txn) if txn else None,
        msisdn=f"+{party}"
        if isinstance(party, str) and party.isascii() and party.isdigit()
        else None,
        reason=_reason(body.get("reason")) if state is not ProviderState.SUCCEEDED else None,
        raw=dict(body),
    )


def _reason(value: Any) -> str | None:
    """MTN's reason: a code string in current versions, {code, message} in older ones."""
    if isinstance(value, dict):
        return " ".join(str(value[k]) for k in ("code", "message") if value.get(k)) or None
    return str(value) if value else None


def _describe(response: requests.Response) -> str:
    body = json_object(response) or {}
    detail = " ".join(str(body[k]) for k in ("code", "message") if body.get(k))
    return f"HTTP {response.status_code}" + (f" {detail}" if detail else "")


def build(host: Host) -> MtnMomo:
    settings = host.settings
    return MtnMomo(
        settings.mtnmomo_subscription_key,
        settings.mtnmomo_api_user,
        settings.mtnmomo_api_key,
        settings.mtnmomo_target_environment,
        settings.mtnmomo_base_url,
    )
