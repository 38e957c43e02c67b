"""Double-entry ledger (payments.md): accounts, transactions, append-only entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin, Money

ACCOUNT_KINDS = ("asset", "liab", "income", "expense", "equity")


class Account(IdMixin, CreatedMixin, Base):
    """Named per mutual, e.g. `liab:household:17`; the kind is the name's first part."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("mutual_id", "name"),
        CheckConstraint("kind IN ('asset', 'liab', 'income', 'expense', 'equity')", name="kind"),
    )

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(8))


class LedgerTransaction(IdMixin, CreatedMixin, Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (UniqueConstraint("mutual_id", "idempotency_key"),)

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300), default="")
    occurred_on: Mapped[dt.date] = mapped_column()
    # Hash of the entries as posted: `ledger check` recomputes it to detect edits.
    fingerprint: Mapped[str] = mapped_column(String(64))
    reverses_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transactions.id"), unique=True
    )
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", order_by="LedgerEntry.id"
    )


class LedgerEntry(IdMixin, Base):
    """Signed amount: positive debits, negative credits; a transaction's entries sum to 0."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount <> 0", name="nonzero"),)

    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[Account] = relationship()
