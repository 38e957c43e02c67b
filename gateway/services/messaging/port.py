"""The SMS sending port (messaging.md): the worker hands a text and recipients to an
`SmsProvider` and gets one `SendResult` per recipient, its outcome already mapped to what the
outbox does next. Adapters in gateway.providers implement it; the domain owns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Outcome = Literal["accepted", "permanent", "transient", "insufficient_balance", "unknown"]


@dataclass(frozen=True)
class SendResult:
    """What the provider said about one recipient; `detail` goes to the outbox's last_error."""

    phone: str
    status_code: int | None
    message_id: str | None
    outcome: Outcome
    detail: str | None = None


class SmsProvider(Protocol):
    name: str

    def send(
        self, phone_e164s: list[str], text: str, sender_id: str | None
    ) -> list[SendResult]: ...
