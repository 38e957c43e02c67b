"""Append-only ledger, ORM side (payments.md, "Ledger"): the session refuses to flush an edit or
a delete of a ledger row, so a bug fails loudly before the database triggers (0002) must."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from gateway.models.ledger import LedgerEntry, LedgerTransaction

LEDGER_ROWS = (LedgerEntry, LedgerTransaction)


class AppendOnlyViolation(Exception):
    """A ledger row was about to be changed or deleted; corrections are reversing transactions."""


@event.listens_for(Session, "before_flush")
def _refuse_ledger_edits(
    session: Session, _ctx: UOWTransaction, _objs: Iterable[Any] | None
) -> None:
    for obj in session.deleted:
        if isinstance(obj, LEDGER_ROWS):
            raise AppendOnlyViolation(f"ledger is append-only: delete of {_label(obj)} refused")
    for obj in session.dirty:
        # Collection changes (a new entry appended to a transaction) are not edits of the row.
        if isinstance(obj, LEDGER_ROWS) and session.is_modified(obj, include_collections=False):
            raise AppendOnlyViolation(f"ledger is append-only: update of {_label(obj)} refused")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_edits(state: ORMExecuteState) -> None:
    """Bulk `update(LedgerEntry)` / `delete(...)` statements bypass the flush."""
    if (state.is_update or state.is_delete) and any(
        m.class_ in LEDGER_ROWS for m in state.all_mappers
    ):
        raise AppendOnlyViolation("ledger is append-only: bulk update/delete refused")


def _label(obj: LedgerEntry | LedgerTransaction) -> str:
    return f"{type(obj).__name__} #{obj.id}"
