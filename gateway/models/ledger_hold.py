"""A mutual's ledger on hold (payments.md, "Ledger": a failed audit stops automatic allocation and
alerts): one row per hold, never deleted, so the history of who cleared what, when and why stays.

A table rather than columns on `mutuals`: a mutual may be held and cleared many times, and each
time's breaches, clearer and reason are part of the record. At most one open hold (not cleared)
per mutual: a partial unique index, which is also what makes `on_hold` one index probe."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin

OPEN = text("cleared_at IS NULL")


class LedgerHold(IdMixin, Base):
    __tablename__ = "ledger_holds"
    __table_args__ = (
        Index(
            "uq_ledger_holds_open",
            "mutual_id",
            unique=True,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        ),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    set_at: Mapped[dt.datetime] = mapped_column()
    # The audit's lines that set the hold (one per breach).
    breaches: Mapped[list[str]] = mapped_column(default=list)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    cleared_at: Mapped[dt.datetime | None] = mapped_column()
    cleared_by: Mapped[str | None] = mapped_column(String(100))
    clear_reason: Mapped[str | None] = mapped_column(Text)
    # Breaches the audit still found when an operator cleared with --force: accepted, so a
    # later audit finding only these does not hold the mutual again.
    accepted: Mapped[list[str]] = mapped_column(default=list)
