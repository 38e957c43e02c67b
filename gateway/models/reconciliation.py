"""Provider statements and their reconciliation (payments.md, "Reconciliation").

A statement file is imported once (its hash); each line once per provider (its natural key:
the provider's transaction id, or a hash of the line when the export has none). Matching
stores one result per line (tier and bucket, `recon_matches`), and one per credited intent
with no line (missing in statement, `recon_missing`). People's decisions on exceptions are
kept in `recon_actions`."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, Money, StrEnumString, one_of, utcnow

BUCKETS = ("matched", "missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate")
LINE_BUCKETS = tuple(b for b in BUCKETS if b != "missing_in_statement")


class LineStatus(StrEnum):
    """A statement line's outcome, whatever words the provider's export uses for it."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ActionKind(StrEnum):
    """What a person did about a suspense line (payments.md): assign, ignore, or approve
    someone else's assignment."""

    ASSIGN = "assign"
    IGNORE = "ignore"
    APPROVE = "approve"


class ActionState(StrEnum):
    """An assignment above the approval threshold waits PENDING for a second person."""

    DONE = "DONE"
    PENDING = "PENDING"
    REFUSED = "REFUSED"


class StatementFile(IdMixin, Base):
    __tablename__ = "statement_files"
    __table_args__ = (UniqueConstraint("mutual_id", "provider", "sha256"),)

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(200), default="")
    layout: Mapped[str] = mapped_column(String(16))  # generic | cinetpay | mtnmomo
    lines: Mapped[int] = mapped_column(default=0)  # lines added by this file
    skipped: Mapped[int] = mapped_column(default=0)  # lines already imported from another file
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StatementLine(IdMixin, Base):
    __tablename__ = "statement_lines"
    __table_args__ = (
        UniqueConstraint("mutual_id", "provider", "natural_key"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("fee >= 0 AND fee <= amount", name="fee"),
        CheckConstraint(one_of("status", LineStatus), name="status"),
        Index("ix_statement_lines_scope", "mutual_id", "provider", "day"),
    )

    file_id: Mapped[int] = mapped_column(ForeignKey("statement_files.id"), index=True)
    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    provider: Mapped[str] = mapped_column(String(32))
    line_no: Mapped[int] = mapped_column()
    natural_key: Mapped[str] = mapped_column(String(120))
    provider_txn_id: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(64))
    msisdn: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Money)
    fee: Mapped[int] = mapped_column(Money, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="XOF")
    status: Mapped[LineStatus] = mapped_column(StrEnumString(LineStatus, 10))
    occurred_at: Mapped[dt.datetime] = mapped_column()
    day: Mapped[dt.date] = mapped_column()  # business day: the UTC date of occurred_at


class StatementRepeat(IdMixin, Base):
    """A line repeated word for word inside one statement file (same natural key, same
    details): the export listing one transaction twice, not a second collection. Skipped at
    import like a line of an overlapping file, and kept here, one row per extra copy of a
    natural key (`occurrence` 2 for the second...), so that the report counts it in the
    duplicate bucket; an overlapping file repeating it again adds no row."""

    __tablename__ = "statement_repeats"
    __table_args__ = (
        UniqueConstraint("mutual_id", "provider", "natural_key", "occurrence"),
        CheckConstraint("occurrence >= 2", name="occurrence"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(one_of("status", LineStatus), name="status"),
        Index("ix_statement_repeats_scope", "mutual_id", "provider", "day"),
    )

    file_id: Mapped[int] = mapped_column(ForeignKey("statement_files.id"), index=True)
    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    provider: Mapped[str] = mapped_column(String(32))
    natural_key: Mapped[str] = mapped_column(String(120))
    occurrence: Mapped[int] = mapped_column()
    line_no: Mapped[int] = mapped_column()  # in the file that first showed this copy
    first_line_no: Mapped[int] = mapped_column()  # the line it repeats, in that file
    reference: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(Money)
    status: Mapped[LineStatus] = mapped_column(StrEnumString(LineStatus, 10))
    day: Mapped[dt.date] = mapped_column()


class StatementDay(Base):
    """One statement file's new lines on one business day, totalled by the import in the
    transaction that adds the lines (lines are never updated or deleted, so the totals stay
    true): the settlement and the provider's newest line are read here instead of from a
    scan of a day's lines (a million on a big statement)."""

    __tablename__ = "statement_days"
    __table_args__ = (
        CheckConstraint("lines > 0 AND paid >= 0 AND paid <= lines", name="lines"),
        CheckConstraint("collected >= 0 AND fees >= 0 AND fees <= collected", name="money"),
        Index("ix_statement_days_scope", "mutual_id", "provider", "day"),
    )

    file_id: Mapped[int] = mapped_column(ForeignKey("statement_files.id"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"))
    provider: Mapped[str] = mapped_column(String(32))
    lines: Mapped[int] = mapped_column()
    paid: Mapped[int] = mapped_column()  # lines with status SUCCEEDED
    collected: Mapped[int] = mapped_column(Money)  # their amounts
    fees: Mapped[int] = mapped_column(Money)  # their fees
    newest_at: Mapped[dt.datetime] = mapped_column()  # the latest occurred_at of the lines


class ReconMatch(Base):
    """One per statement line: its tier, bucket and what reconciliation did about it.

    Derived rows, written only by the matching engine from joins of existing lines and
    intents (neither is ever deleted), a million at a time: keyed by the line (no surrogate
    id, whose index would cost as much again per million rows) and without foreign keys,
    whose per-row trigger checks would cost more than the matching itself."""

    __tablename__ = "recon_matches"
    __table_args__ = (
        CheckConstraint(one_of("bucket", LINE_BUCKETS), name="bucket"),
        CheckConstraint("tier IS NULL OR tier BETWEEN 1 AND 4", name="tier"),
        # Partial: a day's results are found through its lines (their scope index); only
        # the rows awaiting action are indexed here, so that writing a million results
        # maintains two indexes (the line, the intent).
        Index(
            "ix_recon_matches_to_act",
            "mutual_id",
            "provider",
            "day",
            postgresql_where=text("action IS NULL"),
            sqlite_where=text("action IS NULL"),
        ),
    )

    line_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    mutual_id: Mapped[int] = mapped_column()
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column()
    intent_id: Mapped[int | None] = mapped_column(index=True)  # payment_intents.id
    tier: Mapped[int | None] = mapped_column()
    bucket: Mapped[str] = mapped_column(String(24))
    # What reconciliation did about it: applied, suspense, none...
    action: Mapped[str | None] = mapped_column(String(24))
    suspense_id: Mapped[int | None] = mapped_column()  # suspense_items.id
    note: Mapped[str | None] = mapped_column(String(300))


class ReconMissing(Base):
    """One per credited intent of the day that no line covers (bucket missing_in_statement),
    recomputed on every run: `expected` within the settlement lag, `overdue` after it."""

    __tablename__ = "recon_missing"
    __table_args__ = (
        CheckConstraint("action IN ('expected', 'overdue')", name="action"),
        Index("ix_recon_missing_scope", "mutual_id", "provider", "day"),
    )

    intent_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    mutual_id: Mapped[int] = mapped_column()
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column()
    action: Mapped[str] = mapped_column(String(24))

    # Read like a line's result by the report.
    bucket: ClassVar[str] = "missing_in_statement"
    tier: ClassVar[int | None] = None
    note: ClassVar[str | None] = None


class ReconAction(IdMixin, Base):
    """A person's decision on an exception: who, when, why. An assignment above the mutual's
    approval threshold waits (PENDING) for a second, different person's `approve` row."""

    __tablename__ = "recon_actions"
    __table_args__ = (
        CheckConstraint(one_of("kind", ActionKind), name="kind"),
        CheckConstraint(one_of("state", ActionState), name="state"),
    )

    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"), index=True)
    kind: Mapped[ActionKind] = mapped_column(StrEnumString(ActionKind, 10))
    state: Mapped[ActionState] = mapped_column(StrEnumString(ActionState, 10))
    suspense_id: Mapped[int] = mapped_column(ForeignKey("suspense_items.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    amount: Mapped[int | None] = mapped_column(Money)
    approves_id: Mapped[int | None] = mapped_column(ForeignKey("recon_actions.id"))
    by: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[str | None] = mapped_column(String(60))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
