"""Beneficiaries: every covered person, head included."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    and_,
    func,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, IdMixin
from gateway.models.household import Household

RELATIONSHIPS = ("head", "spouse", "child", "parent", "other")
STATUSES = ("active", "removed", "deceased", "suspended")


class Beneficiary(IdMixin, Base):
    __tablename__ = "beneficiaries"
    __table_args__ = (
        UniqueConstraint("mutual_id", "number"),
        Index("ix_beneficiaries_mutual_id_digits", "mutual_id", "digits"),  # issue 15
        Index("ix_beneficiaries_number", "number"),  # a number without its mutual (issue 19)
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        CheckConstraint(
            "relationship IN ('head', 'spouse', 'child', 'parent', 'other')", name="relationship"
        ),
        CheckConstraint("status IN ('active', 'removed', 'deceased', 'suspended')", name="status"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    digits: Mapped[str] = mapped_column(String(32), index=True)
    full_name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column()
    relation: Mapped[str] = mapped_column("relationship", String(8))  # head, spouse, ...
    status: Mapped[str] = mapped_column(String(10), default="active")
    status_reason: Mapped[str | None] = mapped_column(String(200))  # e.g. suspension reason
    enrolled_on: Mapped[dt.date] = mapped_column()
    left_on: Mapped[dt.date | None] = mapped_column()

    household: Mapped[Household] = relationship(back_populates="beneficiaries")

    def active_on(self, day: dt.date) -> bool:
        """D6: enrolled on or before the day and not removed before it."""
        if self.enrolled_on > day:
            return False
        if self.status in ("removed", "deceased"):
            return self.left_on is not None and self.left_on >= day
        return True


def active_on_sql(day: dt.date) -> ColumnElement[bool]:
    """Beneficiary.active_on as SQL, for counting a household's active members in the
    database (the reminders' due list, issue 19); tests/models/test_beneficiary_active.py holds
    the two to each other on both databases."""
    return and_(
        Beneficiary.enrolled_on <= day,
        or_(Beneficiary.status.not_in(("removed", "deceased")), Beneficiary.left_on >= day),
    )


# The console's members search: a case-insensitive name prefix (`lower(full_name) LIKE 'x%'`,
# migration 0023); text_pattern_ops lets PostgreSQL use it whatever the collation.
Index(
    "ix_beneficiaries_name",
    func.lower(Beneficiary.full_name).label("name_lower"),
    postgresql_ops={"name_lower": "text_pattern_ops"},
)
