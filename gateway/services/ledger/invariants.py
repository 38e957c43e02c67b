"""The ledger's invariant audit (payments.md, "Ledger"): what a check command and a periodic
job run to decide whether automatic allocation may go on."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

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


class Breach(NamedTuple):
    """One invariant breach: the audit's line, and the mutual(s) whose ledger it taints (two
    for an entry in another mutual's account: both ledgers are wrong)."""

    text: str
    mutual_ids: tuple[int, ...]


def audit(session: Session, mutual_id: int | None = None) -> list[str]:
    """Every invariant breach, one line each; an empty list means the ledger can be trusted."""
    return [breach.text for breach in find_breaches(session, mutual_id)]


class Only(NamedTuple):
    """Which rows an audit looks at: transactions (a criterion on their id) and the accounts
    whose household credit it checks (a criterion on theirs). The full audit: everything."""

    transactions: ColumnElement[bool]
    accounts: ColumnElement[bool]
    # A few accounts (the recent audit): sum each one's entries through its index rather than
    # aggregate the whole entries table, which is the full audit's cheaper plan.
    few_accounts: bool = False


EVERYTHING = Only(true(), true())


def find_breaches(
    session: Session, mutual_id: int | None = None, only: Only = EVERYTHING
) -> list[Breach]:
    """`audit`'s breaches in its order, each with the mutuals it concerns; with `only`, those
    of the transactions and accounts it names (the recent audit)."""
    codes: dict[int, str] = {i: c for i, c in session.execute(select(Mutual.id, Mutual.code))}
    breaches: list[Breach] = []
    in_scope = _scope(T.mutual_id, mutual_id) & only.transactions
    for check in (_unbalanced, _without_entries, _fingerprints):
        breaches.extend(check(session, in_scope, codes))
    # An entry of another mutual's transaction in this mutual's account taints both ledgers.
    either = (
        true() if mutual_id is None else (A.mutual_id == mutual_id) | (T.mutual_id == mutual_id)
    )
    breaches.extend(_cross_mutual(session, either & only.transactions, codes))
    accounts = _scope(A.mutual_id, mutual_id) & only.accounts
    breaches.extend(_negative_credit(session, accounts, codes, per_account=only.few_accounts))
    return breaches


def breaches_by_mutual(breaches: Sequence[Breach]) -> dict[int, list[str]]:
    """The breaches' lines grouped by mutual id, in audit order within each mutual."""
    grouped: dict[int, list[str]] = {}
    for breach in breaches:
        for mid in breach.mutual_ids:
            grouped.setdefault(mid, []).append(breach.text)
    return grouped


def audit_by_mutual(session: Session, mutual_id: int | None = None) -> dict[int, list[str]]:
    """The audit per mutual (what a hold is set for): mutual id -> its breaches' lines; a
    mutual with a clean ledger has no key. With `mutual_id`, that mutual's breaches only."""
    grouped = breaches_by_mutual(find_breaches(session, mutual_id))
    if mutual_id is None:
        return grouped
    return {mutual_id: grouped[mutual_id]} if mutual_id in grouped else {}


def _txn_label(txn_id: int, key: str, mutual_id: int, codes: dict[int, str]) -> str:
    return f"transaction #{txn_id} {key!r} (mutual {codes.get(mutual_id, mutual_id)})"


def _scope(column: Any, mutual_id: int | None) -> ColumnElement[bool]:
    return true() if mutual_id is None else column == mutual_id


T, E, A = LedgerTransaction, LedgerEntry, Account


def _unbalanced(
    session: Session, where: ColumnElement[bool], codes: dict[int, str]
) -> list[Breach]:
    total = func.sum(E.amount)
    stmt = (
        select(T.id, T.idempotency_key, T.mutual_id, total)
        .join(E, E.transaction_id == T.id)
        .group_by(T.id, T.idempotency_key, T.mutual_id)
        .having(total != 0)
        .order_by(T.id)
    )
    rows = session.execute(stmt.where(where))
    return [
        Breach(f"{_txn_label(i, k, m, codes)} is unbalanced: entries sum to {int(s)}, not 0", (m,))
        for i, k, m, s in rows
    ]


def _without_entries(
    session: Session, where: ColumnElement[bool], codes: dict[int, str]
) -> list[Breach]:
    stmt = select(T.id, T.idempotency_key, T.mutual_id).where(
        ~exists().where(E.transaction_id == T.id)
    )
    rows = session.execute(stmt.where(where).order_by(T.id))
    return [Breach(f"{_txn_label(i, k, m, codes)} has no entries", (m,)) for i, k, m in rows]


def _fingerprints(
    session: Session, where: ColumnElement[bool], codes: dict[int, str]
) -> list[Breach]:
    """Streamed in transaction order through Core (no ORM row overhead): memory stays flat
    however large the ledger is."""
    stmt = (
        select(T.id, T.idempotency_key, T.kind, T.occurred_on, T.fingerprint, T.mutual_id)
        .add_columns(A.name, E.amount)
        .join(E, E.transaction_id == T.id)
        .join(A, A.id == E.account_id)
        .order_by(T.id, E.id)
        .where(where)
        .execution_options(yield_per=STREAM_BATCH)
    )
    rows = session.connection().execute(stmt)
    found: list[Breach] = []
    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        entries = list(group)
        txn_id, key, kind, occurred_on, stored, mid = entries[0][:6]
        lines = [(r[6], int(r[7])) for r in entries]
        if fingerprint(key, kind, occurred_on, lines) != stored:
            label = _txn_label(txn_id, key, mid, codes)
            text = f"{label} does not match its fingerprint: entries changed after posting"
            found.append(Breach(text, (mid,)))
    return found


def _cross_mutual(
    session: Session, where: ColumnElement[bool], codes: dict[int, str]
) -> list[Breach]:
    stmt = (
        select(E.id, T.id, T.idempotency_key, T.mutual_id, A.name, A.mutual_id)
        .join(T, T.id == E.transaction_id)
        .join(A, A.id == E.account_id)
        .where(A.mutual_id != T.mutual_id, where)
        .order_by(E.id)
    )
    return [
        Breach(
            f"entry #{e} of {_txn_label(t, k, m, codes)} uses account {n!r} of mutual "
            f"{codes.get(am, am)}",
            (m, am),
        )
        for e, t, k, m, n, am in session.execute(stmt)
    ]


def _negative_credit(
    session: Session, where: ColumnElement[bool], codes: dict[int, str], *, per_account: bool
) -> list[Breach]:
    if per_account:
        each = select(func.sum(E.amount)).where(E.account_id == A.id).scalar_subquery()
        inner = select(A.name, A.mutual_id, each.label("total")).where(household_accounts(), where)
        sums = inner.subquery()
        stmt = (
            select(sums.c.name, sums.c.mutual_id, sums.c.total)
            .where(sums.c.total > 0)
            .order_by(sums.c.mutual_id, sums.c.name)
        )
        rows = session.execute(stmt)
    else:
        total = func.sum(E.amount)
        grouped = (
            select(A.name, A.mutual_id, total)
            .join(E, E.account_id == A.id)
            .where(household_accounts())
            .group_by(A.id, A.name, A.mutual_id)
            .having(total > 0)
            .order_by(A.mutual_id, A.name)
        )
        rows = session.execute(grouped.where(where))
    return [
        Breach(
            f"account {n!r} (mutual {codes.get(m, m)}) has negative household credit {-int(s)}",
            (m,),
        )
        for n, m, s in rows
    ]
