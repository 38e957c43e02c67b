"""The recent-ledger audit (issue 19; payments.md, "Ledger"): the same invariants as the full
audit, on what changed since its last run, so that it can run every few minutes whatever the
ledger's size. The full audit still runs on a slower schedule and needs nothing of this.

What it looks at:
- the transactions posted after its mark (ids above it), and the household accounts they touch;
- entries added since to transactions at or below the mark (inserts pass the append-only
  triggers);
- the transactions and accounts that `ledger_changes` names: rows updated or deleted behind
  the append-only triggers (the triggers that record them fire in replica mode too);
- every transaction of an account that was renamed or moved (its name is in their fingerprints).

The mark only passes transactions recorded more than `SETTLE` ago: ids are handed out before
commit, so a younger id may still be invisible; rows within the window are audited again on the
next run. A posting transaction left open longer than SETTLE is covered by the full audit only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select
from sqlalchemy.orm import Session

from gateway.models import Account, LedgerAuditMark, LedgerChange, LedgerEntry, LedgerTransaction
from gateway.services.ledger.invariants import Breach, Only, find_breaches

RECENT = "recent"
SETTLE = dt.timedelta(hours=1)
CHUNK = 1000  # ids per IN (...) list

T, E, A = LedgerTransaction, LedgerEntry, Account


@dataclass(frozen=True)
class RecentAudit:
    """One run: its breaches (full audit's wording), how many transactions it read again
    besides the new ones, and the transaction mark before and after."""

    breaches: list[Breach]
    rechecked: int
    since: int
    mark: int


@dataclass(frozen=True)
class _Changes:
    transactions: set[int]
    renamed_accounts: set[int]
    touched_accounts: set[int]
    top: int


def audit_recent(
    session: Session, *, now: dt.datetime, settle: dt.timedelta = SETTLE
) -> RecentAudit:
    """Audit what changed since the mark, then move the mark; the caller commits."""
    mark = session.get(LedgerAuditMark, RECENT) or _new_mark(session)
    changes = _changes(session, mark.change_id)
    again = _rechecks(session, mark, changes)
    new = T.id > mark.transaction_id
    # Only a debit can take a household's credit below zero: new credits need no sum.
    debited = A.id.in_(_accounts_of(new).where(E.amount > 0))
    breaches = find_breaches(session, only=Only(new, debited, few_accounts=True))
    for chunk in _chunks(sorted(again)):
        in_chunk = T.id.in_(chunk)
        accounts = A.id.in_(_accounts_of(in_chunk))
        breaches += find_breaches(session, only=Only(in_chunk, accounts, few_accounts=True))
    for chunk in _chunks(sorted(changes.touched_accounts | changes.renamed_accounts)):
        only = Only(false(), A.id.in_(chunk), few_accounts=True)
        breaches += find_breaches(session, only=only)
    since = mark.transaction_id
    _advance(session, mark, changes.top, now - settle, now)
    return RecentAudit(_unique(breaches), len(again), since, mark.transaction_id)


def _new_mark(session: Session) -> LedgerAuditMark:
    mark = LedgerAuditMark(name=RECENT, transaction_id=0, entry_id=0, change_id=0)
    session.add(mark)
    return mark


def _changes(session: Session, after: int) -> _Changes:
    rows = session.execute(
        select(
            LedgerChange.id,
            LedgerChange.table_name,
            LedgerChange.transaction_id,
            LedgerChange.account_id,
        )
        .where(LedgerChange.id > after)
        .order_by(LedgerChange.id)
    )
    transactions: set[int] = set()
    renamed: set[int] = set()
    touched: set[int] = set()
    top = after
    for change_id, table, txn_id, account_id in rows:
        top = change_id
        if txn_id is not None:
            transactions.add(txn_id)
        if account_id is not None:
            (renamed if table == "ledger_accounts" else touched).add(account_id)
    return _Changes(transactions, renamed, touched, top)


def _rechecks(session: Session, mark: LedgerAuditMark, changes: _Changes) -> set[int]:
    """Transactions at or below the mark to audit again (those above are audited anyway)."""
    again = set(changes.transactions)
    late = select(E.transaction_id).where(
        E.id > mark.entry_id, E.transaction_id <= mark.transaction_id
    )
    again.update(session.scalars(late.distinct()))
    for chunk in _chunks(sorted(changes.renamed_accounts)):
        of_account = select(E.transaction_id).where(E.account_id.in_(chunk)).distinct()
        again.update(session.scalars(of_account))
    return {txn_id for txn_id in again if txn_id <= mark.transaction_id}


def _accounts_of(transactions: ColumnElement[bool]) -> Select[Any]:
    """The accounts the chosen transactions' entries touch (their household credit)."""
    return select(E.account_id).join(T, T.id == E.transaction_id).where(transactions)


def _advance(
    session: Session, mark: LedgerAuditMark, change_top: int, settled: dt.datetime, now: dt.datetime
) -> None:
    top = session.scalar(
        select(func.max(T.id)).where(T.id > mark.transaction_id, T.created_at < settled)
    )
    if top is not None:
        entries = select(func.max(E.id)).where(
            E.transaction_id > mark.transaction_id, E.transaction_id <= top
        )
        mark.entry_id = max(mark.entry_id, session.scalar(entries) or 0)
        mark.transaction_id = top
    mark.change_id = max(mark.change_id, change_top)
    mark.audited_at = now
    session.flush()


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _unique(breaches: Iterable[Breach]) -> list[Breach]:
    seen: set[str] = set()
    kept = []
    for breach in breaches:
        if breach.text not in seen:
            seen.add(breach.text)
            kept.append(breach)
    return kept
