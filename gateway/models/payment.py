"""Money received for a household from any channel (cash, mobile, bank, legacy import)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin, Money
from gateway.models.household import Household

CHANNELS = ("cash", "mobile", "bank", "legacy")


class Payment(IdMixin, CreatedMixin, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("mutual_id", "reference"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("channel IN ('cash', 'mobile', 'bank', 'legacy')", name="channel"),
        # The console's home page reads one day of payments (migration 0020).
        Index("ix_payments_paid_on", "paid_on", "mutual_id"),
        # A household's payments newest first (the console's timeline; migration 0026).
        Index("ix_payments_household_id", "household_id", "created_at", "id"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int] = mapped_column(Money)
    paid_on: Mapped[dt.date] = mapped_column()
    channel: Mapped[str] = mapped_column(String(8))
    reference: Mapped[str] = mapped_column(String(100))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    ledger_key: Mapped[str] = mapped_column(String(200))
    # Held for an operator (far above what the household could owe): the money waits in
    # suspense, not in the household's credit, until released.
    hold_reason: Mapped[str | None] = mapped_column(String(200))
    released_at: Mapped[dt.datetime | None] = mapped_column()
    released_by: Mapped[str | None] = mapped_column(String(100))

    @property
    def held(self) -> bool:
        return self.hold_reason is not None and self.released_at is None

    household: Mapped[Household] = relationship()
