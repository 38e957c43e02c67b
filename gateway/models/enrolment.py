"""Field enrolments (D24, issue 18): a household a collector enrols on USSD waits here as
PENDING until a manager approves it (its household and member numbers are then generated) or
rejects it with a reason. While the collector is still typing, the row is the DRAFT kept per
collector, so a dropped session resumes where it stopped."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.agent import Agent
from gateway.models.base import Base, IdMixin, StrEnumString, one_of, utcnow
from gateway.models.household import Household
from gateway.models.mutual import Mutual, Section


class EnrolmentStatus(StrEnum):
    """D24: typed on USSD (DRAFT), waiting for a manager (PENDING), then decided."""

    DRAFT = "DRAFT"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class Enrolment(IdMixin, Base):
    """A household as the collector typed it: the head here, the dependants in their own
    table; `duplicates` lists the members and enrolments it may repeat (for the manager)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint(one_of("status", EnrolmentStatus), name="status"),
        CheckConstraint("head_sex IN ('M', 'F')", name="head_sex"),
        # One draft per collector: the next dial offers to continue it.
        Index(
            "ux_enrolments_draft_agent",
            "agent_id",
            unique=True,
            postgresql_where=text("status = 'DRAFT'"),
            sqlite_where=text("status = 'DRAFT'"),
        ),
        Index("ix_enrolments_mutual_status", "mutual_id", "status", "id"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    # None: typed and approved by a manager on the console (no collector)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(
        StrEnumString(EnrolmentStatus, 10), default=EnrolmentStatus.DRAFT
    )
    head_name: Mapped[str | None] = mapped_column(String(200))
    head_sex: Mapped[str | None] = mapped_column(String(1))
    head_year: Mapped[int | None] = mapped_column()
    head_phone: Mapped[str | None] = mapped_column(String(16))  # E.164
    section_chosen: Mapped[bool] = mapped_column(default=False)
    dependants_expected: Mapped[int | None] = mapped_column()
    language: Mapped[str] = mapped_column(String(8), default="fr")
    duplicates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    mutual: Mapped[Mutual] = relationship()
    section: Mapped[Section | None] = relationship()
    agent: Mapped[Agent | None] = relationship()
    household: Mapped[Household | None] = relationship()
    dependants: Mapped[list[EnrolmentDependant]] = relationship(
        back_populates="enrolment",
        cascade="all, delete-orphan",
        order_by="EnrolmentDependant.position",
    )


class EnrolmentDependant(IdMixin, Base):
    """A dependant of a field enrolment, in the order typed (1, 2, ...)."""

    __tablename__ = "enrolment_dependants"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "position"),
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
    )

    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    position: Mapped[int] = mapped_column()
    full_name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_year: Mapped[int | None] = mapped_column()

    enrolment: Mapped[Enrolment] = relationship(back_populates="dependants")


class NumberSequence(Base):
    """The last household serial generated for a mutual (D24: numbers per mutual); read
    FOR UPDATE so two approvals never take the same serial."""

    __tablename__ = "number_sequences"

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), primary_key=True)
    last_serial: Mapped[int] = mapped_column(default=0)
