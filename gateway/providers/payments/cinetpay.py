"""CinetPay checkout API v2 (docs.cinetpay.com): the aggregator for Orange/Moov BF and ML,
Orange/Free/Wave/Expresso SN.

- initiate: `POST /v2/payment` (JSON) with our reference as `transaction_id`; `201 CREATED`
  gives a `payment_url` where the payer confirms (kept as `redirect_url`).
- status: `POST /v2/payment/check` by `transaction_id`; `00` + `ACCEPTED` is the only success.
- notify URL: `GET` is CinetPay's availability ping; `POST` carries form fields and an
  `x-token` header, HMAC-SHA256 (hex) of the fields concatenated in the documented order, keyed
  by the secret key. A notification does not say the final status reliably, so even a verified
  one needs confirmation by `status()` before money moves (payments.md).

CinetPay identifies a payment by the merchant's `transaction_id`, so `provider_txn_id` is our
reference everywhere; the operator's id (`operator_id`) stays in `raw`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import requests

from gateway.providers.payments import Host
from gateway.providers.payments.common import (
    EVENT_LIMITS,
    HTTP_TIMEOUT_S,
    InvalidAmount,
    check_request_amount,
    has_control,
    header,
    join_msisdn,
    json_object,
    not_sent,
    parse_amount,
    split_msisdn,
)
from gateway.services.payments import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    InitiateResult,
    Initiation,
    InvalidProviderAnswer,
    PaymentRequest,
    ProviderError,
    ProviderState,
    StatusResult,
)

# The notification's form fields, in the order the x-token HMAC concatenates them.
NOTIFY_FIELDS = (
    "cpm_site_id",
    "cpm_trans_id",
    "cpm_trans_date",
    "cpm_amount",
    "cpm_currency",
    "signature",
    "payment_method",
    "cel_phone_num",
    "cpm_phone_prefixe",
    "cpm_language",
    "cpm_version",
    "cpm_payment_config",
    "cpm_page_action",
    "cpm_custom",
    "cpm_designation",
    "cpm_error_message",
)
NOTIFY_REQUIRED = ("cpm_site_id", "cpm_trans_id", "cpm_amount", "cpm_currency")
MAX_FIELD = 1000  # no notification field is near this; more is garbage
SUCCESS_CODE = "00"
CREATED_CODE = "201"
# The checkout code table: the payer has not finished yet.
PENDING_CODES = {
    "623": "WAITING_CUSTOMER_TO_VALIDATE",
    "662": "WAITING_CUSTOMER_PAYMENT",
    "663": "WAITING_CUSTOMER_OTP_CODE",
    "664": "WAITING_CUSTOMER_PAYMENT_AT_OPERATOR_SIDE",
}
# Definitive failures of a payment.
FAILED_CODES = {
    "600": "PAYMENT_FAILED",
    "602": "INSUFFICIENT_BALANCE",
    "604": "OTP_CODE_ERROR",
    "627": "TRANSACTION_CANCEL",
    "635": "ERROR_PHONE_NUMBER_NOT_FOUND",
    "636": "ERROR_PHONE_NUMBER_NOT_SUPPORTED",
    "641": "ERROR_AMOUNT_TOO_LOW",
    "642": "ERROR_AMOUNT_TOO_HIGH",
}
PENDING_STATUSES = {"PENDING", "CREATED", "WAITING_FOR_CUSTOMER", *PENDING_CODES.values()}
FAILED_STATUSES = {"REFUSED", "CANCELED", "CANCELLED", "FAILED", *FAILED_CODES.values()}
SUCCESS_MESSAGES = {"SUCCES", "SUCCESS", "ACCEPTED", SUCCESS_CODE}
# Characters the documentation asks to keep out of `description`.
_DESCRIPTION_BANNED = str.maketrans("", "", "#/$_&")


def notify_token(fields: Mapping[str, str], secret_key: str) -> str:
    """The documented x-token: hex HMAC-SHA256 of the fields concatenated in order."""
    message = "".join(fields.get(name, "") for name in NOTIFY_FIELDS)
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


class CinetPay:
    name = "cinetpay"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        base_url: str,
        *,
        timeout: tuple[float, float] = HTTP_TIMEOUT_S,
        session: requests.Session | None = None,
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()

    # -- initiate ------------------------------------------------------------------------

    def initiate(self, request: PaymentRequest) -> InitiateResult:
        problem = self._refusal(request)
        if problem:
            return InitiateResult(Initiation.REJECTED, reason=problem)
        try:
            response = self.http.post(
                f"{self.base_url}/v2/payment", json=self._payload(request), timeout=self.timeout
            )
        except requests.RequestException as exc:
            # No connection: CinetPay has nothing (and documents no "unknown transaction" answer
            # that status() could resolve), so the intent fails. Otherwise it may have arrived.
            if not_sent(exc):
                return InitiateResult(Initiation.REJECTED, reason=f"not sent, no connection: {exc}")
            return InitiateResult(Initiation.UNKNOWN, reason=f"no answer: {exc}")
        return self._initiated(request, response)

    def _refusal(self, request: PaymentRequest) -> str | None:
        if not self.api_key:
            return "CINETPAY_API_KEY is not set"
        if not str(request.settings.get("site_id", "")).strip():
            return "the mutual's [payment] table has no site_id for CinetPay"
        problem = check_request_amount(request.amount)
        if problem:
            return problem
        if request.amount % 5:
            return f"CinetPay amounts must be a multiple of 5, not {request.amount}"
        try:
            split_msisdn(request.msisdn)
        except ValueError as exc:
            return str(exc)
        return None

    def _payload(self, request: PaymentRequest) -> dict[str, Any]:
        settings = request.settings
        return {
            "apikey": self.api_key,
            "site_id": str(settings["site_id"]).strip(),
            "transaction_id": request.reference,
            "amount": request.amount,
            "currency": request.currency,
            "description": request.description.translate(_DESCRIPTION_BANNED)[:200],
            "notify_url": request.notify_url,
            "return_url": str(settings.get("return_url") or request.notify_url),
            "channels": str(settings.get("channels") or "MOBILE_MONEY"),
            "lang": str(settings.get("lang") or "fr"),
            "metadata": request.reference,
            "customer_phone_number": request.msisdn,
            "lock_phone_number": bool(settings.get("lock_phone_number", True)),
        }

    def _initiated(self, request: PaymentRequest, response: requests.Response) -> InitiateResult:
        if response.status_code >= 500:
            return InitiateResult(Initiation.UNKNOWN, reason=f"HTTP {response.status_code}")
        body = json_object(response)
        if body is None:
            if response.ok:
                return InitiateResult(Initiation.UNKNOWN, reason="answer is not JSON")
            return InitiateResult(Initiation.REJECTED, reason=f"HTTP {response.status_code}")
        code = str(body.get("code", ""))
        if code == CREATED_CODE:
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            url = data.get("payment_url") if isinstance(data, dict) else None
            return InitiateResult(
                Initiation.ACCEPTED,
                provider_txn_id=request.reference,
                redirect_url=str(url) if url else None,
            )
        return InitiateResult(Initiation.REJECTED, reason=_describe(body, response.status_code))

    # -- status --------------------------------------------------------------------------

    def status(self, request: PaymentRequest) -> StatusResult:
        payload = {
            "apikey": self.api_key,
            "site_id": str(request.settings.get("site_id", "")).strip(),
            "transaction_id": request.reference,
        }
        try:
            response = self.http.post(
                f"{self.base_url}/v2/payment/check", json=payload, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ProviderError(f"CinetPay check failed: {exc}") from exc
        body = json_object(response)
        if response.status_code >= 500 or body is None:
            raise ProviderError(f"CinetPay check: HTTP {response.status_code}, no usable answer")
        return self._state_of(request, body, response.status_code)

    def _state_of(
        self, request: PaymentRequest, body: Mapping[str, Any], http_status: int
    ) -> StatusResult:
        code = str(body.get("code", ""))
        raw_data = body.get("data")
        data: Mapping[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        status = str(data.get("status", "")).upper()
        common: dict[str, Any] = {
            "currency": _text(data.get("currency")),
            "provider_txn_id": request.reference,
            "msisdn": join_msisdn(
                str(data.get("phone_prefix", "")), str(data.get("phone_number", ""))
            )
            if data.get("phone_number")
            else None,
            "raw": dict(body),
        }
        if status == "ACCEPTED" or code == SUCCESS_CODE:
            if status != "ACCEPTED" or code != SUCCESS_CODE:
                raise InvalidProviderAnswer(f"CinetPay check contradicts itself: {code} {status}")
            try:
                amount = parse_amount(data.get("amount"))
            except InvalidAmount as exc:
                raise InvalidProviderAnswer(f"CinetPay check: {exc}") from exc
            return StatusResult(ProviderState.SUCCEEDED, amount=amount, **common)
        if code in PENDING_CODES or status in PENDING_STATUSES:
            return StatusResult(ProviderState.PENDING, amount=_lenient(data), **common)
        if code in FAILED_CODES or status in FAILED_STATUSES:
            reason = _describe(body, http_status)
            return StatusResult(
                ProviderState.FAILED, amount=_lenient(data), reason=reason, **common
            )
        raise ProviderError(f"CinetPay check: unexpected answer {_describe(body, http_status)}")

    # -- notifications -------------------------------------------------------------------

    def parse_callback(self, request: CallbackRequest) -> CallbackEvent | None:
        method = request.method.upper()
        if method in ("GET", "HEAD"):
            return None  # CinetPay pings the notify URL to check it answers 200
        if method != "POST":
            raise CallbackRejected(f"CinetPay notifications are GET or POST, not {method}")
        form = dict(request.form) or _form_of(request.body)
        missing = [name for name in NOTIFY_FIELDS if name not in form]
        if missing:
            raise CallbackRejected(f"missing form fields: {', '.join(missing)}")
        empty = [name for name in NOTIFY_REQUIRED if not form[name].strip()]
        if empty:
            raise CallbackRejected(f"empty form fields: {', '.join(empty)}")
        _check_fields(form)
        token = self._verified_token(request.headers, form)
        try:
            amount = parse_amount(form["cpm_amount"])
        except InvalidAmount as exc:
            raise CallbackRejected(f"cpm_amount: {exc}") from exc
        message = form["cpm_error_message"].strip().upper()
        state, reason = _notified_state(message)
        reference = form["cpm_trans_id"].strip()
        return CallbackEvent(
            event_key=f"{reference}:{token[:32]}",
            reference=reference,
            provider_txn_id=reference,
            state=state,
            amount=amount,
            currency=form["cpm_currency"].strip() or None,
            msisdn=join_msisdn(form["cpm_phone_prefixe"], form["cel_phone_num"])
            if form["cel_phone_num"].strip()
            else None,
            verified=True,
            needs_confirmation=True,  # the check API is the truth (payments.md)
            reason=reason,
        )

    def _verified_token(self, headers: Mapping[str, str], form: Mapping[str, str]) -> str:
        token = (header(headers, "x-token") or "").strip().lower()
        if not token:
            raise ForgedCallback("missing x-token header")
        if not self.secret_key:
            raise ForgedCallback("cannot verify x-token: CINETPAY_SECRET_KEY is not set")
        if not hmac.compare_digest(token.encode(), notify_token(form, self.secret_key).encode()):
            raise ForgedCallback("x-token does not match the notification")
        return token


def _check_fields(form: Mapping[str, str]) -> None:
    """Every field bounded and free of control characters, before the token is even computed
    (like the missing fields): the ids to their columns, the rest to MAX_FIELD (issue 15)."""
    limits = {"cpm_trans_id": EVENT_LIMITS["reference"], "cpm_currency": EVENT_LIMITS["currency"]}
    for name in NOTIFY_FIELDS:
        value = form[name]
        if has_control(value):
            raise CallbackRejected(f"{name} contains a control character")
        limit = limits.get(name, MAX_FIELD)
        if len(value.strip()) > limit:
            raise CallbackRejected(f"{name} longer than {limit} characters")


def _notified_state(message: str) -> tuple[ProviderState, str | None]:
    if message in SUCCESS_MESSAGES:
        return ProviderState.SUCCEEDED, None
    if message in FAILED_STATUSES or message in FAILED_CODES:
        return ProviderState.FAILED, FAILED_CODES.get(message, message)
    return ProviderState.PENDING, message or None


def _describe(body: Mapping[str, Any], http_status: int) -> str:
    parts = [str(body.get(key)) for key in ("code", "message", "description") if body.get(key)]
    return " ".join(parts) or f"HTTP {http_status}"


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _lenient(data: Mapping[str, Any]) -> int | None:
    """The amount of a non-success answer: informative only, so unreadable means None."""
    try:
        return parse_amount(data.get("amount"))
    except InvalidAmount:
        return None


def _form_of(body: bytes) -> dict[str, str]:
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise CallbackRejected("notification body is not UTF-8 form data") from exc


def build(host: Host) -> CinetPay:
    settings = host.settings
    return CinetPay(
        settings.cinetpay_api_key, settings.cinetpay_secret_key, settings.cinetpay_base_url
    )
