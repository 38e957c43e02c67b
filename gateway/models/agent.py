"""Agents (D19): collectors, facility staff and supervisors, identified by phone and PIN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin
from gateway.models.mutual import Mutual, Section

ROLES = ("collector", "facility", "supervisor")


class Agent(IdMixin, CreatedMixin, Base):
    __tablename__ = "agents"
    __table_args__ = (
        UniqueConstraint("msisdn"),
        CheckConstraint("role IN ('collector', 'facility', 'supervisor')", name="role"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    msisdn: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12))
    pin_hash: Mapped[str] = mapped_column(String(200))
    failed_tries: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)

    mutual: Mapped[Mutual] = relationship()
    section: Mapped[Section | None] = relationship()
