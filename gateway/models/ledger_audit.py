"""What the recent-ledger audit needs (issue 19; payments.md, "Ledger"): the point it has
audited up to, and the ledger rows changed behind the append-only triggers since.

`ledger_changes` is written by database triggers only (migration 0034): an UPDATE or DELETE of
an entry, a transaction or an account records which transaction or account to look at again.
On PostgreSQL those triggers fire even in replica mode (`ENABLE ALWAYS`), the way someone with
database access would get past the append-only triggers. Nothing in the application writes or
deletes these rows; the full audit, on its slower schedule, does not depend on them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin


class LedgerChange(IdMixin, Base):
    """One changed or deleted ledger row: its transaction (entries, transactions) or its
    account (entries, accounts). No foreign keys: the row it names may be gone."""

    __tablename__ = "ledger_changes"

    table_name: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(8))
    transaction_id: Mapped[int | None] = mapped_column()
    account_id: Mapped[int | None] = mapped_column()


class LedgerAuditMark(Base):
    """How far the recent audit has gone: transactions up to `transaction_id` (all committed),
    entries up to `entry_id`, changes up to `change_id`. One row, name 'recent'."""

    __tablename__ = "ledger_audit_marks"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(default=0)
    entry_id: Mapped[int] = mapped_column(default=0)
    change_id: Mapped[int] = mapped_column(default=0)
    audited_at: Mapped[dt.datetime | None] = mapped_column()
