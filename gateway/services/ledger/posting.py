"""Double-entry ledger (payments.md, "Ledger"): post, reverse and balance.

Amounts are signed whole XOF (+ debit, - credit) and every transaction sums to zero. The caller
owns the database transaction: nothing here commits; savepoints only contain insert races.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Account, LedgerEntry, LedgerTransaction
from gateway.models.ledger_guard import AppendOnlyViolation as AppendOnlyViolation
from gateway.services.ledger import accounts
from gateway.services.ledger.accounts import account_kind
from gateway.services.ledger.errors import IdempotencyConflict, LedgerError, UnbalancedTransaction

log = logging.getLogger(__name__)

Line = tuple[str, int]  # (account name, signed amount: + debit, - credit)
MAX_AMOUNT = 2**63 - 1  # BIGINT
KEYS_PER_QUERY = 1000  # post_many: idempotency keys looked up per statement
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


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


# Built once: every posting reads its accounts and its key (issue 19: a payment's
# confirmation is a few dozen statements, and building one cost about as much as running it).
_ACCOUNT = select(Account).where(
    Account.mutual_id == bindparam("mutual_id"), Account.name == bindparam("name")
)
_TXN = select(LedgerTransaction).where(
    LedgerTransaction.mutual_id == bindparam("mutual_id"),
    LedgerTransaction.idempotency_key == bindparam("key"),
)


def _find_account(session: Session, mutual_id: int, name: str) -> Account | None:
    return session.scalars(_ACCOUNT, {"mutual_id": mutual_id, "name": name}).one_or_none()


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
    return session.scalars(_TXN, {"mutual_id": mutual_id, "key": key}).one_or_none()


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


# Built once: every coverage and payments screen of a USSD hop reads a balance (issue 19).
_BALANCE = (
    select(func.coalesce(func.sum(LedgerEntry.amount), 0))
    .join(Account, LedgerEntry.account_id == Account.id)
    .where(Account.mutual_id == bindparam("mutual_id"), Account.name == bindparam("account"))
)
_BALANCE_AS_OF = _BALANCE.join(
    LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id
).where(LedgerTransaction.occurred_on <= bindparam("as_of"))


def balance(session: Session, mutual_id: int, account: str, *, as_of: dt.date | None = None) -> int:
    """Balances are sums of entries (debit positive), never a stored figure."""
    account_kind(account)
    params: dict[str, object] = {"mutual_id": mutual_id, "account": account}
    if as_of is None:
        return int(session.scalar(_BALANCE, params) or 0)
    return int(session.scalar(_BALANCE_AS_OF, {**params, "as_of": as_of}) or 0)


def household_credit(
    session: Session, mutual_id: int, household_id: int, *, as_of: dt.date | None = None
) -> int:
    """Money received for the household and not yet allocated (a liability: credit positive).

    `as_of` a day: what the household held that day (D7b allocates in date order), leaving out
    every reversed transaction and its reversal, as if neither had happened."""
    account = accounts.household(household_id)
    if as_of is None:
        return -balance(session, mutual_id, account)
    undone = select(LedgerTransaction.reverses_id).where(
        LedgerTransaction.mutual_id == mutual_id, LedgerTransaction.reverses_id.is_not(None)
    )
    stmt = (
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(Account, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(
            Account.mutual_id == mutual_id,
            Account.name == account,
            LedgerTransaction.occurred_on <= as_of,
            LedgerTransaction.reverses_id.is_(None),
            LedgerTransaction.id.not_in(undone),
        )
    )
    return -int(session.scalar(stmt) or 0)
