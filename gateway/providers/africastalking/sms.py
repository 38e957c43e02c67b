"""Africa's Talking SMS sending (messaging.md), behind the messaging capability's `SmsProvider`:
`AfricasTalkingSms` wraps the `africastalking` SDK: strict +E.164 recipients, an HTTP
timeout, answers as dict or str, per-recipient status codes mapped to outcomes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import phonenumbers
import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

from gateway.providers.africastalking import PROVIDER
from gateway.services.messaging import Outcome, SendResult

# Africa's Talking per-recipient status codes (SMS API documentation).
AT_ACCEPTED = frozenset({100, 101, 102})  # Processed, Sent, Queued
AT_INSUFFICIENT_BALANCE = 405
# RiskHold, InvalidSenderId, InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist,
# CouldNotRoute, DoNotDisturbRejection, RejectedByGateway.
AT_PERMANENT = frozenset({401, 402, 403, 404, 406, 407, 409, 502})
AT_TRANSIENT = frozenset({500, 501})  # InternalServerError, GatewayError
# Connect, read: a read timeout means the request left, so its outcome is unknown.
AT_TIMEOUT_S = (3.05, 10.0)


def is_strict_e164(phone: str) -> bool:
    """`+` and digits, a valid number, and already in its E.164 spelling."""
    if not phone.startswith("+") or not phone[1:].isdigit():
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_valid_number(number) and e164 == phone


def at_outcome(status_code: int | None) -> Outcome:
    if status_code in AT_ACCEPTED:
        return "accepted"
    if status_code == AT_INSUFFICIENT_BALANCE:
        return "insufficient_balance"
    if status_code in AT_PERMANENT:
        return "permanent"
    if status_code in AT_TRANSIENT:
        return "transient"
    return "unknown"


class AfricasTalkingSms:
    """Africa's Talking through its SDK. `base_url` replaces `https://api.africastalking.com`
    (or the sandbox host) for tests against a local fake server."""

    name = PROVIDER

    def __init__(
        self,
        username: str,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: tuple[float, float] = AT_TIMEOUT_S,
    ) -> None:
        # One service object per adapter rather than the SDK's module-level `initialize()`
        # globals: the same request code, without process-wide state.
        self._service: Any = SMSService(username, api_key)
        if base_url is not None:
            self._service._baseUrl = base_url.rstrip("/") + "/version1"
        self.timeout = timeout

    def send(self, phone_e164s: list[str], text: str, sender_id: str | None) -> list[SendResult]:
        valid = [p for p in phone_e164s if is_strict_e164(p)]
        results = {
            p: SendResult(p, None, None, "permanent", "not a strict +E.164 number")
            for p in phone_e164s
            if p not in valid
        }
        if valid:
            answer = self._post(valid, text, sender_id)
            results.update(answer)
        return [results[p] for p in phone_e164s]

    def _post(self, phones: list[str], text: str, sender_id: str | None) -> dict[str, SendResult]:
        def every(outcome: Outcome, detail: str) -> dict[str, SendResult]:
            return {p: SendResult(p, None, None, outcome, detail[:300]) for p in phones}

        try:
            answer = self._service.send(
                text, phones, sender_id=sender_id, enqueue=False, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:
            return every("transient", f"connect timeout: {exc}")
        except requests.Timeout as exc:
            return every("unknown", f"timeout after the request left: {exc}")
        except requests.ConnectionError as exc:
            left = not _never_connected(exc)
            return every("unknown" if left else "transient", f"connection error: {exc}")
        except AfricasTalkingException as exc:
            # A non-2xx answer: the API accepted nothing, so trying again is safe.
            return every("transient", f"HTTP error: {exc}")
        return self._parse(phones, answer)

    def _parse(self, phones: list[str], answer: object) -> dict[str, SendResult]:
        if isinstance(answer, str):
            try:
                answer = json.loads(answer)
            except ValueError:
                answer = None
        data = answer.get("SMSMessageData") if isinstance(answer, Mapping) else None
        if not isinstance(data, Mapping):
            detail = f"unreadable answer: {str(answer)[:200]}"
            return {p: SendResult(p, None, None, "unknown", detail) for p in phones}
        found: dict[str, SendResult] = {}
        for row in data.get("Recipients") or []:
            if not isinstance(row, Mapping) or row.get("number") not in phones:
                continue
            code = _int_or_none(row.get("statusCode"))
            phone = str(row["number"])
            found[phone] = SendResult(
                phone,
                code,
                str(row["messageId"]) if row.get("messageId") not in (None, "None") else None,
                at_outcome(code),
                str(row.get("status") or ""),
            )
        message = str(data.get("Message") or "")
        for phone in phones:
            if phone not in found:  # e.g. {"Message": "InvalidSenderId", "Recipients": []}
                outcome: Outcome = "unknown"
                if "InvalidSenderId" in message:
                    outcome = "permanent"
                elif "InsufficientBalance" in message:
                    outcome = "insufficient_balance"
                found[phone] = SendResult(phone, None, None, outcome, message[:300] or None)
        return found


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _never_connected(exc: BaseException) -> bool:
    """True when the connection was refused or not resolved: nothing was sent."""
    seen: BaseException | None = exc
    while seen is not None:
        text = type(seen).__name__ + str(seen)
        if "NewConnectionError" in text or "Failed to establish" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return any("NewConnectionError" in repr(arg) for arg in exc.args)
