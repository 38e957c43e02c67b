"""What funders pay against their statements and what the mutual remits of its levies (D25):
one row per payment or remittance, with the ledger transaction that moved the money."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin, Money
from gateway.models.mutual import Funder

# A statement period as typed: `2026` (periods starting in that year) or `2026-03` (in that month).
PERIOD_LENGTH = 7


class FunderPayment(IdMixin, CreatedMixin, Base):
    """A funder's payment recorded against its statement for a period (Dr bank / Cr
    receivable); its reference (the bank transfer's) is unique per funder, so recording the
    same transfer twice is a no-op."""

    __tablename__ = "funder_payments"
    __table_args__ = (
        UniqueConstraint("funder_id", "reference"),
        CheckConstraint("amount > 0", name="amount"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    funder_id: Mapped[int] = mapped_column(ForeignKey("funders.id"), index=True)
    period: Mapped[str] = mapped_column(String(PERIOD_LENGTH))
    amount: Mapped[int] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(String(100))
    paid_on: Mapped[dt.date] = mapped_column()
    ledger_key: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))

    funder: Mapped[Funder] = relationship()


class LevyRemittance(IdMixin, CreatedMixin, Base):
    """The mutual's remittance of a levy's share for a period to its fund (Dr levy / Cr bank);
    unique per levy and reference, like a funder's payment."""

    __tablename__ = "levy_remittances"
    __table_args__ = (
        UniqueConstraint("mutual_id", "levy", "reference"),
        CheckConstraint("amount > 0", name="amount"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    levy: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(PERIOD_LENGTH))
    amount: Mapped[int] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(String(100))
    paid_on: Mapped[dt.date] = mapped_column()
    ledger_key: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[str] = mapped_column(String(200))
