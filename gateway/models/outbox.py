"""The SMS outbox (messaging.md): every outgoing SMS is a row here before anything is sent.

Lifecycle `QUEUED -> SENDING -> SENT -> DELIVERED | FAILED | REJECTED | EXPIRED`, `SKIPPED`
for messages never sent; the allowed moves live in gateway.services.messaging.outbox."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, StrEnumString, one_of, utcnow


class OutboxStatus(StrEnum):
    """messaging.md: `QUEUED -> SENDING -> SENT -> DELIVERED | FAILED | REJECTED | EXPIRED`,
    `SKIPPED` for messages never sent."""

    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SKIPPED = "SKIPPED"


REASONS = ("receipt", "reminder", "coverage", "agent", "other")
PHONE_LEN, TEMPLATE_LEN, LANGUAGE_LEN, PROVIDER_LEN = 16, 64, 8, 32
MESSAGE_ID_LEN, ERROR_LEN, DEDUPE_LEN = 128, 400, 200


class OutboxMessage(IdMixin, Base):
    """One SMS to one phone; `dedupe_key` (unique) makes a caller's message at-most-once."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(one_of("status", OutboxStatus), name="status"),
        CheckConstraint(one_of("reason", REASONS), name="reason"),
        # The batch sender lists and claims QUEUED messages by id (migration 0011).
        Index(
            "ix_outbox_messages_queued",
            "id",
            postgresql_where=text("status = 'QUEUED'"),
            sqlite_where=text("status = 'QUEUED'"),
        ),
        # A household's timeline reads its SMS newest first by phone and by household, each in
        # index order (migration 0026; were single-column indexes).
        Index("ix_outbox_messages_household_id", "household_id", "created_at", "id"),
        Index("ix_outbox_messages_phone", "phone", "created_at", "id"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    phone: Mapped[str] = mapped_column(String(PHONE_LEN))  # E.164
    template: Mapped[str] = mapped_column(String(TEMPLATE_LEN))
    language: Mapped[str] = mapped_column(String(LANGUAGE_LEN))
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(12))
    status: Mapped[OutboxStatus] = mapped_column(
        StrEnumString(OutboxStatus, 12), default=OutboxStatus.QUEUED, index=True
    )
    provider: Mapped[str | None] = mapped_column(String(PROVIDER_LEN))
    provider_message_id: Mapped[str | None] = mapped_column(String(MESSAGE_ID_LEN), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LEN))
    dedupe_key: Mapped[str | None] = mapped_column(String(DEDUPE_LEN), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
