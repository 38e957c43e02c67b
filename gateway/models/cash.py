"""Cash held by agents (D20, D21): each cash collection with its receipt code, and each
remittance a collector declares and a supervisor confirms or rejects (who, when and why)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.agent import Agent
from gateway.models.base import Base, CreatedMixin, IdMixin, Money, StrEnumString, one_of
from gateway.models.household import Household


class RemittanceStatus(StrEnum):
    """D21: declared PENDING; a supervisor other than the declarer confirms or rejects it."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


REMITTANCE_METHODS = ("deposit", "transfer")  # D21: cash deposited, or sent by mobile money


class CashCollection(IdMixin, CreatedMixin, Base):
    """One cash payment taken by an agent; `request_key` (the USSD session and step) makes a
    replayed or duplicated hop find this row instead of taking the money twice."""

    __tablename__ = "cash_collections"
    __table_args__ = (
        UniqueConstraint("mutual_id", "receipt_code"),
        UniqueConstraint("request_key"),
        UniqueConstraint("payment_id"),
        CheckConstraint("amount > 0", name="amount"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"))
    amount: Mapped[int] = mapped_column(Money)
    receipt_code: Mapped[str] = mapped_column(String(12))
    request_key: Mapped[str] = mapped_column(String(64))
    collected_at: Mapped[dt.datetime] = mapped_column()
    collected_on: Mapped[dt.date] = mapped_column()  # the mutual's local day

    agent: Mapped[Agent] = relationship()
    household: Mapped[Household] = relationship()


class Remittance(IdMixin, CreatedMixin, Base):
    """Cash a collector declares handing to the mutual (a deposit or a transfer); it leaves
    their cash account only once a supervisor (not the declarer) confirms it. A rejected one
    (the money never arrived, or not that amount) leaves the cash with the agent."""

    __tablename__ = "remittances"
    __table_args__ = (
        UniqueConstraint("request_key"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(one_of("status", RemittanceStatus), name="status"),
        CheckConstraint("method IN ('deposit', 'transfer')", name="method"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)
    status: Mapped[RemittanceStatus] = mapped_column(
        StrEnumString(RemittanceStatus, 10), default=RemittanceStatus.PENDING
    )
    method: Mapped[str] = mapped_column(String(10), default="deposit")
    request_key: Mapped[str] = mapped_column(String(64))
    declared_at: Mapped[dt.datetime] = mapped_column()
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    confirmed_at: Mapped[dt.datetime | None] = mapped_column()
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    rejected_at: Mapped[dt.datetime | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(200))  # why it was confirmed or rejected
    ledger_key: Mapped[str | None] = mapped_column(String(200))

    agent: Mapped[Agent] = relationship(foreign_keys=[agent_id])
    confirmed_by: Mapped[Agent | None] = relationship(foreign_keys=[confirmed_by_id])
    rejected_by: Mapped[Agent | None] = relationship(foreign_keys=[rejected_by_id])
