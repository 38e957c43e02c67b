"""The ledger's invariant audit (payments.md, "Ledger"): what a check command and a periodic
job run to decide whether automatic allocation may go on."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.orm import Session

from gateway.models import Account, LedgerEntry, LedgerTransaction, Mutual
from gateway.services.ledger.accounts import household_accounts
from gateway.services.ledger.posting import fingerprint

STREAM_BATCH = 20000


def ledger_size(session: Session) -> tuple[int, int]:
    """(transactions, entries) of all mutuals, for the check command's summary."""
    txns = session.scalar(select(func.count()).select_from(LedgerTransaction))
    return int(txns or 0), int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def audit(session: Session, mutual_id: int | None = None) -> list[str]:
    """Every invariant breach, one line each; an empty list means the ledger can be trusted."""
    codes: dict[int, str] = {i: c for i, c in session.execute(select(Mutual.id, Mutual.code))}
    breaches: list[str] = []
    for check in (_unbalanced, _without_entries, _fingerprints, _cross_mutual, _negative_credit):
        breaches.extend(check(session, mutual_id, codes))
    return breaches


def _txn_label(txn_id: int, key: str, mutual_id: int, codes: dict[int, str]) -> str:
    return f"transaction #{txn_id} {key!r} (mutual {codes.get(mutual_id, mutual_id)})"


def _scope(column: Any, mutual_id: int | None) -> ColumnElement[bool]:
    return true() if mutual_id is None else column == mutual_id


T, E, A = LedgerTransaction, LedgerEntry, Account


def _unbalanced(session: Session, mutual_id: int | None, codes: dict[int, str]) -> list[str]:
    total = func.sum(E.amount)
    stmt = (
        select(T.id, T.idempotency_key, T.mutual_id, total)
        .join(E, E.transaction_id == T.id)
        .group_by(T.id, T.idempotency_key, T.mutual_id)
        .having(total != 0)
        .order_by(T.id)
    )
    rows = session.execute(stmt.where(_scope(T.mutual_id, mutual_id)))
    return [
        f"{_txn_label(i, k, m, codes)} is unbalanced: entries sum to {int(s)}, not 0"
        for i, k, m, s in rows
    ]


def _without_entries(session: Session, mutual_id: int | None, codes: dict[int, str]) -> list[str]:
    stmt = select(T.id, T.idempotency_key, T.mutual_id).where(
        ~exists().where(E.transaction_id == T.id)
    )
    rows = session.execute(stmt.where(_scope(T.mutual_id, mutual_id)).order_by(T.id))
    return [f"{_txn_label(i, k, m, codes)} has no entries" for i, k, m in rows]


def _fingerprints(session: Session, mutual_id: int | None, codes: dict[int, str]) -> list[str]:
    """Streamed in transaction order through Core (no ORM row overhead): memory stays flat
    however large the ledger is."""
    stmt = (
        select(T.id, T.idempotency_key, T.kind, T.occurred_on, T.fingerprint, T.mutual_id)
        .add_columns(A.name, E.amount)
        .join(E, E.transaction_id == T.id)
        .join(A, A.id == E.account_id)
        .order_by(T.id, E.id)
        .where(_scope(T.mutual_id, mutual_id))
        .execution_options(yield_per=STREAM_BATCH)
    )
    rows = session.connection().execute(stmt)
    found = []
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        entries = list(group)
        txn_id, key, kind, occurred_on, stored, mid = entries[0][:6]
        lines = [(r[6], int(r[7])) for r in entries]
        if fingerprint(key, kind, occurred_on, lines) != stored:
            label = _txn_label(txn_id, key, mid, codes)
            found.append(f"{label} does not match its fingerprint: entries changed after posting")
    return found


def _cross_mutual(session: Session, mutual_id: int | None, codes: dict[int, str]) -> list[str]:
    stmt = (
        select(E.id, T.id, T.idempotency_key, T.mutual_id, A.name, A.mutual_id)
        .join(T, T.id == E.transaction_id)
        .join(A, A.id == E.account_id)
        .where(A.mutual_id != T.mutual_id)
        .order_by(E.id)
    )
    if mutual_id is not None:
        stmt = stmt.where((A.mutual_id == mutual_id) | (T.mutual_id == mutual_id))
    return [
        f"entry #{e} of {_txn_label(t, k, m, codes)} uses account {n!r} of mutual "
        f"{codes.get(am, am)}"
        for e, t, k, m, n, am in session.execute(stmt)
    ]


def _negative_credit(session: Session, mutual_id: int | None, codes: dict[int, str]) -> list[str]:
    total = func.sum(E.amount)
    stmt = (
        select(A.name, A.mutual_id, total)
        .join(E, E.account_id == A.id)
        .where(household_accounts())
        .group_by(A.id, A.name, A.mutual_id)
        .having(total > 0)
        .order_by(A.mutual_id, A.name)
    )
    rows = session.execute(stmt.where(_scope(A.mutual_id, mutual_id)))
    return [
        f"account {n!r} (mutual {codes.get(m, m)}) has negative household credit {-int(s)}"
        for n, m, s in rows
    ]
