"""Households (the unit of membership) and the phones linked to them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin
from gateway.models.mutual import Mutual, Section
from gateway.models.product import Product

if TYPE_CHECKING:
    from gateway.models.beneficiary import Beneficiary


class Household(IdMixin, CreatedMixin, Base):
    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("mutual_id", "number"),
        Index("ix_households_mutual_id_digits", "mutual_id", "digits"),  # issue 15
        # By number across mutuals (migration 0026): a household page for an operator of
        # several mutuals, `gateway eligibility NUMBER` without --mutual (issue 19).
        Index("ix_households_number", "number"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    # The number's digits only: what a member can type on a keypad (ussd.md).
    digits: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(32), default="standard")
    # The day the category took effect (D3: a 0-share household's automatic periods count from
    # it); None: from each beneficiary's enrolment.
    category_since: Mapped[dt.date | None] = mapped_column()
    language: Mapped[str | None] = mapped_column(String(8))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    reminders_enabled: Mapped[bool] = mapped_column(default=True)  # D18 consent
    reminders_changed_at: Mapped[dt.datetime | None] = mapped_column()
    # D23: set once a re-enrolment or a suspension is recorded (never unset: events are kept
    # forever), so that a book reads earlier spells and suspensions only where there are any.
    dated_register: Mapped[bool] = mapped_column(default=False, server_default=false())

    mutual: Mapped[Mutual] = relationship()
    section: Mapped[Section | None] = relationship()
    product: Mapped[Product] = relationship()
    beneficiaries: Mapped[list[Beneficiary]] = relationship(
        back_populates="household", order_by="Beneficiary.id"
    )
    phones: Mapped[list[HouseholdPhone]] = relationship(
        back_populates="household", cascade="all, delete-orphan", order_by="HouseholdPhone.id"
    )


class HouseholdPhone(IdMixin, Base):
    """A phone (E.164) linked to a household; one phone may serve several households."""

    __tablename__ = "household_phones"
    __table_args__ = (UniqueConstraint("household_id", "msisdn"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    msisdn: Mapped[str] = mapped_column(String(16), index=True)
    is_primary: Mapped[bool] = mapped_column(default=False)

    household: Mapped[Household] = relationship(back_populates="phones")
