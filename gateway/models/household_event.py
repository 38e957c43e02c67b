"""The household register as dated events (D23), earlier membership spells, and facility
checks (D26): rows written once and kept forever (issue 18)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from gateway.models.base import Base, IdMixin, one_of

EVENT_TYPES = (
    "enrol",
    "add-dependant",
    "depart",
    "death",
    "reenrol",
    "change-head",
    "category",
    "product",
    "suspend",
    "lift",
    "correct",
)


class HouseholdEvent(IdMixin, Base):
    """D23: one change of the register, with its effective date, who recorded it and why.
    `key` makes a duplicate submission of the same event record nothing new."""

    __tablename__ = "household_events"
    __table_args__ = (
        UniqueConstraint("mutual_id", "key"),
        CheckConstraint(one_of("type", EVENT_TYPES), name="type"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[dt.date] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column()
    key: Mapped[str] = mapped_column(String(64))


class MembershipSpell(IdMixin, Base):
    """D23: an earlier membership of a beneficiary, closed by a departure and kept when they
    re-enrol; the current spell stays on the beneficiary (enrolled_on, left_on)."""

    __tablename__ = "membership_spells"
    __table_args__ = (UniqueConstraint("beneficiary_id", "starts_on"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    starts_on: Mapped[dt.date] = mapped_column()
    ends_on: Mapped[dt.date] = mapped_column()
    ended_as: Mapped[str] = mapped_column(String(10))  # removed, deceased

    def holds(self, day: dt.date) -> bool:
        return self.starts_on <= day <= self.ends_on


class FacilityCheck(IdMixin, Base):
    """D26: a beneficiary check on USSD by an agent: once per verification (`key`: the USSD
    step, the same when a hop is replayed)."""

    __tablename__ = "facility_checks"
    __table_args__ = (UniqueConstraint("key"),)

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    facility: Mapped[str | None] = mapped_column(String(100))  # the agent's section
    card_number: Mapped[str] = mapped_column(String(32))
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiaries.id"))
    checked_on: Mapped[dt.date] = mapped_column(index=True)
    checked_at: Mapped[dt.datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(12))
    key: Mapped[str] = mapped_column(String(64))


KEPT_FOREVER = (HouseholdEvent, MembershipSpell, FacilityCheck)


class RegisterRowChanged(Exception):
    """An event, spell or check row was about to be changed or deleted (D23: kept forever)."""


@event.listens_for(Session, "before_flush")
def _refuse_edits(session: Session, _ctx: UOWTransaction, _objs: Iterable[Any] | None) -> None:
    for obj in session.deleted:
        if isinstance(obj, KEPT_FOREVER):
            raise RegisterRowChanged(f"{type(obj).__name__} rows are kept forever (D23)")
    for obj in session.dirty:
        if isinstance(obj, KEPT_FOREVER) and session.is_modified(obj):
            raise RegisterRowChanged(f"{type(obj).__name__} rows are kept forever (D23)")
