"""Coverage periods of a product and the allocations that pay them (D7, D8)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin, Money
from gateway.models.beneficiary import Beneficiary
from gateway.models.household import Household


class CoveragePeriod(IdMixin, Base):
    __tablename__ = "coverage_periods"
    __table_args__ = (
        UniqueConstraint("product_id", "starts_on"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    starts_on: Mapped[dt.date] = mapped_column()
    ends_on: Mapped[dt.date] = mapped_column()


class Allocation(IdMixin, CreatedMixin, Base):
    """A share allocated: one beneficiary's contribution for one period, or a household's
    registration fee (beneficiary and period empty)."""

    __tablename__ = "allocations"
    __table_args__ = (
        # A share reversed (D7b) may be allocated again with the next generation; two live
        # allocations of one share still collide here.
        UniqueConstraint("beneficiary_id", "period_id", "generation"),
        CheckConstraint("kind IN ('contribution', 'registration')", name="kind"),
        CheckConstraint("member_amount >= 0 AND funder_amount >= 0", name="amounts"),
        CheckConstraint(
            "(kind = 'registration' AND beneficiary_id IS NULL AND period_id IS NULL)"
            " OR (kind = 'contribution' AND beneficiary_id IS NOT NULL"
            " AND period_id IS NOT NULL)",
            name="shape",
        ),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    # Indexed with allocated_on: the coverage-start notices look allocations up by the day
    # their cover can start (gateway.services.notices.candidates), by period or by day.
    period_id: Mapped[int | None] = mapped_column(ForeignKey("coverage_periods.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    member_amount: Mapped[int] = mapped_column(Money)
    funder_amount: Mapped[int] = mapped_column(Money, default=0)
    allocated_on: Mapped[dt.date] = mapped_column(index=True)
    ledger_key: Mapped[str] = mapped_column(String(200), index=True)
    generation: Mapped[int] = mapped_column(default=0, server_default="0")

    household: Mapped[Household] = relationship()
    beneficiary: Mapped[Beneficiary | None] = relationship()
    period: Mapped[CoveragePeriod | None] = relationship()


class AllocationReversal(IdMixin, CreatedMixin, Base):
    """An allocation undone (D7b re-ordering, D7 departure): its ledger transaction is reversed
    and the allocation stops counting; the allocation row itself is never changed."""

    __tablename__ = "allocation_reversals"

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), unique=True)
    reversed_on: Mapped[dt.date] = mapped_column()
    ledger_key: Mapped[str | None] = mapped_column(String(200))  # None: nothing was posted
    reason: Mapped[str] = mapped_column(String(200))


class CoverageSnapshot(Base):
    """A household's book reduced to what a coverage screen reads (issue 19): rebuilt with
    every change of its allocations, ledger, register or category (gateway.services.coverage
    .snapshot), so that a hop reads one row whatever the length of its history."""

    __tablename__ = "coverage_snapshots"

    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[str] = mapped_column(Text)
    built_at: Mapped[dt.datetime] = mapped_column()
