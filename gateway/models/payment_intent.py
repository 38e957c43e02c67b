"""Mobile-money payment intents and what providers told us about them (payments.md).

An intent is written before the provider is called and keeps one reference for every retry.
Every callback delivery is logged raw first (PaymentCallback); each distinct provider event is
kept once (PaymentEvent, unique per provider and event key); verified money with no matching
intent, or with another amount, waits in suspense for a person (SuspenseItem)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, IdMixin, Money, StrEnumString, one_of, utcnow
from gateway.models.household import Household


class IntentState(StrEnum):
    """payments.md: `CREATED -> PENDING -> SUCCEEDED | FAILED | EXPIRED`, plus `UNKNOWN`;
    the allowed moves live in gateway.services.payments.lifecycle."""

    CREATED = "CREATED"
    PENDING = "PENDING"
    UNKNOWN = "UNKNOWN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class IntentFlag(StrEnum):
    """Why an intent needs a second look: credited late, another amount, or a person told."""

    LATE = "late"
    AMOUNT_MISMATCH = "amount_mismatch"
    ESCALATED = "escalated"


class SuspenseState(StrEnum):
    """A suspense line waits OPEN until a person assigns it to a household or ignores it."""

    OPEN = "OPEN"
    ASSIGNED = "ASSIGNED"
    IGNORED = "IGNORED"


class PaymentIntent(IdMixin, Base):
    __tablename__ = "payment_intents"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(one_of("state", IntentState), name="state"),
        CheckConstraint(f"flag IS NULL OR {one_of('flag', IntentFlag)}", name="flag"),
        # The console's payments list (keyset) and its stuck intents first (migration 0024).
        Index("ix_payment_intents_created", "created_at", "id"),
        # A household's intents newest first, and the intent of a payment (migration 0026).
        Index("ix_payment_intents_household_id", "household_id", "created_at", "id"),
        Index("ix_payment_intents_payment_id", "payment_id"),
        Index(
            "ix_payment_intents_flagged",
            "id",
            postgresql_where=text("flag IS NOT NULL"),
            sqlite_where=text("flag IS NOT NULL"),
        ),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    reference: Mapped[str] = mapped_column(String(36), unique=True)  # UUID4, ours
    provider: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    # Indexed for reconciliation's tier 3 (same msisdn and amount), migration 0010.
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    state: Mapped[IntentState] = mapped_column(
        StrEnumString(IntentState, 10), default=IntentState.CREATED, index=True
    )
    reason: Mapped[str | None] = mapped_column(String(200))
    flag: Mapped[IntentFlag | None] = mapped_column(StrEnumString(IntentFlag, 20))
    provider_txn_id: Mapped[str | None] = mapped_column(String(100))
    origin_key: Mapped[str | None] = mapped_column(String(120), unique=True)  # e.g. USSD session
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    initiate_attempts: Mapped[int] = mapped_column(default=0)  # provider requests that left
    polls: Mapped[int] = mapped_column(default=0)
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    expires_at: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()

    household: Mapped[Household] = relationship()


class PaymentCallback(IdMixin, Base):
    """Every delivery of a provider notification, stored before anything else is done."""

    __tablename__ = "payment_callbacks"

    provider: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(8))
    query: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("payment_events.id"))


class PaymentEvent(IdMixin, Base):
    """One distinct provider event (callback or status answer); its effect is applied once."""

    __tablename__ = "payment_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_key"),
        # Callbacks the sweeper gave up on: the console's stuck payments (migration 0024).
        Index(
            "ix_payment_events_abandoned",
            "intent_id",
            postgresql_where=text("outcome = 'abandoned'"),
            sqlite_where=text("outcome = 'abandoned'"),
        ),
    )

    provider: Mapped[str] = mapped_column(String(32))
    event_key: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10))  # callback | status
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(64))
    provider_txn_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    msisdn: Mapped[str | None] = mapped_column(String(16))
    verified: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(20))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SuspenseItem(IdMixin, Base):
    """Verified money we cannot give to a household automatically (payments.md): an unknown
    reference, or an amount other than the intent's. A person assigns or ignores it."""

    __tablename__ = "suspense_items"
    __table_args__ = (
        UniqueConstraint("provider", "provider_txn_id"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(one_of("state", SuspenseState), name="state"),
    )

    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_txn_id: Mapped[str] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(64))
    msisdn: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    received_on: Mapped[dt.date] = mapped_column()
    reason: Mapped[str] = mapped_column(String(20))  # unknown_reference | amount_mismatch
    state: Mapped[SuspenseState] = mapped_column(
        StrEnumString(SuspenseState, 10), default=SuspenseState.OPEN
    )
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("payment_intents.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    ledger_key: Mapped[str | None] = mapped_column(String(200))  # None until a mutual is known
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)


class SandboxRequest(IdMixin, Base):
    """The sandbox provider's own memory (it plays a remote provider for demos and tests)."""

    __tablename__ = "sandbox_requests"

    reference: Mapped[str] = mapped_column(String(64), unique=True)
    provider_txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    msisdn: Mapped[str] = mapped_column(String(16))
    notify_url: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default="PENDING")  # SUCCESSFUL | FAILED
    requests: Mapped[int] = mapped_column(default=1)  # initiate calls received for it
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    callbacks_sent: Mapped[int] = mapped_column(default=0)
