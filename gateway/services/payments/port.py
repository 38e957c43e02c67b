"""The payment provider port (payments.md): initiate, status, parse_callback.

Adapters in gateway.providers.payments speak HTTP to one provider and translate its answers
into these types; they never touch the database, and the domain never imports them.
Flask-free: the callback handler hands them a `CallbackRequest`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Initiation(StrEnum):
    ACCEPTED = "ACCEPTED"  # the provider took the request (or already had it: 409 on retry)
    REJECTED = "REJECTED"  # definitive refusal: the intent fails, nothing will be collected
    UNKNOWN = "UNKNOWN"  # timeout or 5xx after the request left: resolve by status, never resend


class ProviderState(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    NOT_FOUND = "NOT_FOUND"  # the provider never received it (e.g. MTN 404): safe to initiate


@dataclass(frozen=True)
class PaymentRequest:
    """What an adapter needs about one intent; `reference` is ours and reused on every retry."""

    reference: str
    amount: int  # whole XOF
    currency: str
    msisdn: str  # E.164 with +
    description: str
    notify_url: str
    channel: str | None = None  # e.g. ORANGE_BF, from the number and the mutual's settings
    settings: Mapping[str, Any] = field(default_factory=dict)  # the mutual's [payment] table


@dataclass(frozen=True)
class InitiateResult:
    outcome: Initiation
    provider_txn_id: str | None = None
    reason: str | None = None
    # Where the payer completes the payment when the provider needs a page (CinetPay checkout).
    redirect_url: str | None = None


@dataclass(frozen=True)
class StatusResult:
    """The provider's answer to a status query: the truth that callbacks are checked against."""

    state: ProviderState
    amount: int | None = None
    currency: str | None = None
    provider_txn_id: str | None = None
    msisdn: str | None = None
    reason: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackRequest:
    """An incoming notification, as received (the raw body is kept for the event log)."""

    method: str
    headers: Mapping[str, str]
    args: Mapping[str, str]
    form: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class CallbackEvent:
    """What a callback claims. `verified` is True only when its signature was checked; adapters
    whose callbacks are unsigned (or untrusted) set `needs_confirmation` and the caller asks
    `status()` before moving money."""

    event_key: str  # unique per provider: a redelivery carries the same key
    reference: str | None
    provider_txn_id: str | None
    state: ProviderState
    amount: int | None
    currency: str | None
    msisdn: str | None
    verified: bool
    needs_confirmation: bool
    reason: str | None = None


class CallbackRejected(ValueError):
    """Malformed callback: answered 400 with this reason, nothing stored beyond the raw event."""


class ForgedCallback(ValueError):
    """Bad signature: answered 401; no money moves."""


class ProviderError(Exception):
    """A status query that got no usable answer (network, 5xx): try again later."""


class InvalidProviderAnswer(ProviderError):
    """The provider answered, but with something we refuse to read (an amount such as "100.5",
    an unknown status): retrying will not help, a person must look; no money moves."""


class PaymentProvider(Protocol):
    name: str

    def initiate(self, request: PaymentRequest) -> InitiateResult: ...

    def status(self, request: PaymentRequest) -> StatusResult: ...

    def parse_callback(self, request: CallbackRequest) -> CallbackEvent | None:
        """None for a request that is not an event (e.g. CinetPay's GET ping)."""
        ...
