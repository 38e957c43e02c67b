"""Double-entry ledger (payments.md, "Ledger"): post, reverse, balance and audit.

Amounts are signed whole XOF (+ debit, - credit) and every transaction sums to zero. The caller
owns the database transaction: nothing here commits; savepoints only contain insert races.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Account, LedgerEntry, LedgerTransaction, Mutual
from gateway.models.ledger import ACCOUNT_KINDS
from gateway.models.ledger_guard import AppendOnlyViolation as AppendOnlyViolation

log = logging.getLogger(__name__)

Line = tuple[str, int]  # (account name, signed amount: + debit, - credit)
MAX_AMOUNT = 2**63 - 1  # BIGINT
HOUSEHOLD_PREFIX = "liab:household:"
STREAM_BATCH = 20000
KEYS_PER_QUERY = 1000  # post_many: idempotency keys looked up per statement
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


class LedgerError(Exception):
    """A posting the ledger refuses; nothing was written."""


class UnbalancedTransaction(LedgerError):
    """Debits and credits differ: double entry forbids it."""


class IdempotencyConflict(LedgerError):
    """The same business event key came back with different lines: a bug or tampering."""


def account_kind(name: str) -> str:
    """The kind is the name's prefix so that reports group accounts without a lookup."""
    kind, sep, rest = name.partition(":") if isinstance(name, str) else ("", "", "")
    if not sep or not rest or kind not in ACCOUNT_KINDS:
        raise LedgerError(
            f"account name {name!r} must start with one of {'|'.join(ACCOUNT_KINDS)}:"
        )
    return kind


def household_account(household_id: int) -> str:
    return f"{HOUSEHOLD_PREFIX}{household_id}"


def fingerprint(key: str, kind: str, occurred_on: dt.date, lines: Sequence[Line]) -> str:
    """Hash of what was posted; `audit` recomputes it from the entries to detect edits."""
    canon = [key, kind, occurred_on.isoformat(), [[n, a] for n, a in sorted(lines)]]
    return hashlib.sha256(_CANONICAL.encode(canon).encode("utf-8")).hexdigest()


def _inserted(session: Session, row: object) -> IntegrityError | None:
    """Insert ROW alone in a savepoint so that losing a unique-index race leaves the caller's
    transaction usable (gateway.db makes SQLite savepoints behave the same way)."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        return exc
    return None


def _find_account(session: Session, mutual_id: int, name: str) -> Account | None:
    stmt = select(Account).where(Account.mutual_id == mutual_id, Account.name == name)
    return session.scalars(stmt).one_or_none()


def get_account(session: Session, mutual_id: int, name: str) -> Account:
    """Get or create; a concurrent creator wins the unique index and we read its row."""
    kind = account_kind(name)
    if len(name) > 120:
        raise LedgerError(f"account name {name!r} is longer than 120 characters")
    found = _find_account(session, mutual_id, name)
    if found is not None:
        return found
    account = Account(mutual_id=mutual_id, name=name, kind=kind)
    if (exc := _inserted(session, account)) is None:
        return account
    found = _find_account(session, mutual_id, name)
    if found is None:
        raise LedgerError(f"cannot create account {name!r} in mutual {mutual_id}") from exc
    return found


def _clean_lines(lines: Sequence[Line]) -> list[Line]:
    clean: list[Line] = []
    for name, amount in lines:
        account_kind(name)
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise LedgerError(f"amount on {name!r} must be whole XOF (int), not {amount!r}")
        if abs(amount) > MAX_AMOUNT:
            raise LedgerError(f"amount on {name!r} is out of range")
        if amount:
            clean.append((name, amount))
    if not clean:
        raise LedgerError("empty transaction: no non-zero line")
    total = sum(amount for _, amount in clean)
    if total:
        raise UnbalancedTransaction(f"lines sum to {total}, not 0 (debits must equal credits)")
    return clean


def _check_header(txn: LedgerTransaction) -> None:
    if not txn.idempotency_key or len(txn.idempotency_key) > 200:
        raise LedgerError("idempotency key must have 1 to 200 characters")
    if not txn.kind or len(txn.kind) > 32:
        raise LedgerError("transaction kind must have 1 to 32 characters")
    day = txn.occurred_on
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise LedgerError(f"occurred_on must be a date, not {day!r}")
    if len(txn.description) > 300:
        raise LedgerError("description is longer than 300 characters")


def _find_txn(session: Session, mutual_id: int, key: str) -> LedgerTransaction | None:
    stmt = select(LedgerTransaction).where(
        LedgerTransaction.mutual_id == mutual_id, LedgerTransaction.idempotency_key == key
    )
    return session.scalars(stmt).one_or_none()


def _replay(existing: LedgerTransaction, draft: LedgerTransaction) -> LedgerTransaction:
    """Same key: the same event replayed is a no-op; anything else is an error and an alert."""
    if (existing.fingerprint, existing.reverses_id) == (draft.fingerprint, draft.reverses_id):
        return existing
    reason = (
        f"key {existing.idempotency_key!r} of mutual {existing.mutual_id} was posted as "
        f"transaction #{existing.id} with different lines"
    )
    log.error("ledger idempotency conflict: %s", reason, extra={"ledger_txn": existing.id})
    raise IdempotencyConflict(reason)


def post(
    session: Session,
    *,
    mutual_id: int,
    key: str,
    kind: str,
    occurred_on: dt.date,
    lines: Sequence[Line],
    description: str = "",
    meta: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Record one balanced business event once, whatever the number of replays."""
    draft = LedgerTransaction(
        mutual_id=mutual_id,
        idempotency_key=key,
        kind=kind,
        occurred_on=occurred_on,
        description=description,
        meta=dict(meta or {}),
        reverses_id=None,
    )
    return _post(session, draft, lines)


@dataclass(frozen=True)
class Posting:
    """One business event for `post_many` (the arguments of `post`)."""

    key: str
    kind: str
    occurred_on: dt.date
    lines: Sequence[Line]
    description: str = ""


def post_many(session: Session, *, mutual_id: int, postings: Sequence[Posting]) -> None:
    """`post` for each posting, set-based: one look-up of the keys, the accounts once, one
    insert of the new transactions and their entries. The same rules as one by one (lines
    checked, replays no-ops, a replay with other lines an IdempotencyConflict); a key twice in
    the batch, or an insert race lost on a unique index, posts them one by one instead."""
    drafts: list[tuple[LedgerTransaction, list[Line]]] = []
    for p in postings:
        draft = LedgerTransaction(
            mutual_id=mutual_id,
            idempotency_key=p.key,
            kind=p.kind,
            occurred_on=p.occurred_on,
            description=p.description,
            meta={},
            reverses_id=None,
        )
        clean = _clean_lines(p.lines)
        _check_header(draft)
        draft.fingerprint = fingerprint(p.key, p.kind, p.occurred_on, clean)
        drafts.append((draft, clean))
    keys = [p.key for p in postings]
    if len(set(keys)) != len(keys):
        _post_each(session, mutual_id, postings)
        return
    existing = _find_txns(session, mutual_id, keys)
    fresh = []
    for draft, clean in drafts:
        if draft.idempotency_key in existing:
            _replay(existing[draft.idempotency_key], draft)
        else:
            fresh.append((draft, clean))
    names = sorted({n for _, clean in fresh for n, _ in clean})
    accounts = {n: get_account(session, mutual_id, n) for n in names}
    for draft, clean in fresh:
        draft.entries = [LedgerEntry(account=accounts[n], amount=a) for n, a in clean]
    if not fresh:
        return
    try:
        with session.begin_nested():
            session.add_all(draft for draft, _ in fresh)
            session.flush()
    except IntegrityError:  # a concurrent poster took a key: settle each as `post` does
        _post_each(session, mutual_id, [p for p in postings if p.key not in existing])


def _find_txns(session: Session, mutual_id: int, keys: list[str]) -> dict[str, LedgerTransaction]:
    found: dict[str, LedgerTransaction] = {}
    for i in range(0, len(keys), KEYS_PER_QUERY):
        stmt = select(LedgerTransaction).where(
            LedgerTransaction.mutual_id == mutual_id,
            LedgerTransaction.idempotency_key.in_(keys[i : i + KEYS_PER_QUERY]),
        )
        found.update((t.idempotency_key, t) for t in session.scalars(stmt))
    return found


def _post_each(session: Session, mutual_id: int, postings: Sequence[Posting]) -> None:
    for p in postings:
        post_one(session, mutual_id, p)


def post_one(session: Session, mutual_id: int, p: Posting) -> LedgerTransaction:
    """`post` of one Posting."""
    return post(
        session,
        mutual_id=mutual_id,
        key=p.key,
        kind=p.kind,
        occurred_on=p.occurred_on,
        lines=p.lines,
        description=p.description,
    )


def reverse(
    session: Session,
    txn: LedgerTransaction,
    *,
    key: str,
    occurred_on: dt.date,
    description: str = "",
) -> LedgerTransaction:
    """Corrections are reversing transactions (never edits); each transaction at most once."""
    stmt = select(LedgerTransaction).where(LedgerTransaction.reverses_id == txn.id)
    prior = session.scalars(stmt).one_or_none()
    if prior is not None and prior.idempotency_key != key:
        raise LedgerError(f"transaction #{txn.id} is already reversed by #{prior.id}")
    draft = LedgerTransaction(
        mutual_id=txn.mutual_id,
        idempotency_key=key,
        kind="reversal",
        occurred_on=occurred_on,
        reverses_id=txn.id,
        description=description or f"reversal of {txn.idempotency_key}"[:300],
        meta={"reverses": txn.idempotency_key},
    )
    return _post(session, draft, [(e.account.name, -e.amount) for e in txn.entries])


def _post(session: Session, draft: LedgerTransaction, lines: Sequence[Line]) -> LedgerTransaction:
    """DRAFT is a transient header: it is inserted only if its key is new."""
    clean = _clean_lines(lines)
    _check_header(draft)
    mutual_id, key = draft.mutual_id, draft.idempotency_key
    draft.fingerprint = fingerprint(key, draft.kind, draft.occurred_on, clean)
    existing = _find_txn(session, mutual_id, key)
    if existing is not None:
        return _replay(existing, draft)
    # Sorted so that concurrent posters take the account index locks in the same order.
    accounts = {n: get_account(session, mutual_id, n) for n in sorted({n for n, _ in clean})}
    draft.entries = [LedgerEntry(account=accounts[n], amount=a) for n, a in clean]
    if (exc := _inserted(session, draft)) is None:
        return draft
    existing = _find_txn(session, mutual_id, key)
    if existing is not None:
        return _replay(existing, draft)
    if draft.reverses_id is not None:
        raise LedgerError(f"transaction #{draft.reverses_id} is already reversed") from exc
    raise LedgerError(f"cannot post {key!r} in mutual {mutual_id}") from exc


def balance(session: Session, mutual_id: int, account: str, *, as_of: dt.date | None = None) -> int:
    """Balances are sums of entries (debit positive), never a stored figure."""
    account_kind(account)
    stmt = (
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Account, LedgerEntry.account_id == Account.id)
        .where(Account.mutual_id == mutual_id, Account.name == account)
    )
    if as_of is not None:
        stmt = stmt.join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
        stmt = stmt.where(LedgerTransaction.occurred_on <= as_of)
    return int(session.scalar(stmt) or 0)


def household_credit(session: Session, mutual_id: int, household_id: int) -> int:
    """Money received for the household and not yet allocated (a liability: credit positive)."""
    return -balance(session, mutual_id, household_account(household_id))


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
        .where(A.name.startswith(HOUSEHOLD_PREFIX, autoescape=True))
        .group_by(A.id, A.name, A.mutual_id)
        .having(total > 0)
        .order_by(A.mutual_id, A.name)
    )
    rows = session.execute(stmt.where(_scope(A.mutual_id, mutual_id)))
    return [
        f"account {n!r} (mutual {codes.get(m, m)}) has negative household credit {-int(s)}"
        for n, m, s in rows
    ]
