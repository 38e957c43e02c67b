"""Operator alerts: conditions a person must look at (paused campaign, escalated payment, ...).

One row per condition: the dedupe key makes raising the same alert twice a no-op."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, utcnow


class Alert(IdMixin, Base):
    __tablename__ = "alerts"

    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # e.g. sms_balance, payment_escalated
    subject: Mapped[str] = mapped_column(String(200))  # what it is about: "campaign:HARVEST"
    detail: Mapped[str] = mapped_column(Text, default="")
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
