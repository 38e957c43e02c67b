"""Contribution campaigns and their reminder rules (D14-D15), used by the SMS channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, IdMixin, Money
from gateway.models.mutual import Mutual
from gateway.models.product import Product


class Campaign(IdMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("mutual_id", "code"),
        CheckConstraint("closes_on >= opens_on", name="dates"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    opens_on: Mapped[dt.date] = mapped_column()
    closes_on: Mapped[dt.date] = mapped_column()
    for_period: Mapped[dt.date] = mapped_column()  # first day of the period it collects for
    sections: Mapped[list[str]] = mapped_column(default=list)  # empty: every section
    budget: Mapped[int | None] = mapped_column(Money)  # XOF cap on the estimated SMS cost
    paused_at: Mapped[dt.datetime | None] = mapped_column()  # e.g. provider balance exhausted
    paused_reason: Mapped[str | None] = mapped_column(String(200))

    mutual: Mapped[Mutual] = relationship()
    product: Mapped[Product] = relationship()
    reminders: Mapped[list[ReminderRule]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="ReminderRule.id"
    )


class ReminderRule(IdMixin, Base):
    __tablename__ = "reminder_rules"
    __table_args__ = (
        CheckConstraint("anchor IN ('opens', 'closes', 'coverage_end')", name="anchor"),
        CheckConstraint("repeat_every_days IS NULL OR repeat_every_days > 0", name="repeat"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    anchor: Mapped[str] = mapped_column(String(16))
    offset_days: Mapped[int] = mapped_column(default=0)
    repeat_every_days: Mapped[int | None] = mapped_column()
    template: Mapped[str] = mapped_column(String(64))

    campaign: Mapped[Campaign] = relationship(back_populates="reminders")
