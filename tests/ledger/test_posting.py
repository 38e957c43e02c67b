"""Ledger service (payments.md, "Ledger"): double entry, append-only, idempotent keys, reversing
corrections and balances as sums of entries (the invariant audit: test_invariants)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Account, LedgerEntry, LedgerTransaction, Mutual
from gateway.services import ledger
from gateway.services.ledger import posting
from gateway.services.ledger.errors import IdempotencyConflict, LedgerError, UnbalancedTransaction
from gateway.services.ledger.posting import AppendOnlyViolation
from tests.support.factories import make_household, make_mutual
from tests.support.ledger import DAY, FLOAT, pay


def count(db: Session, model: type[Any]) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def test_balanced_posting_records_signed_entries(db: Session, mutual: Mutual) -> None:
    """Every transaction balances: debits positive, credits negative, sum 0 (payments.md)."""
    lines = [("asset:bank", 9900), ("expense:provider_fees", 100), (FLOAT, -10000)]
    txn = posting.post(
        db,
        mutual_id=mutual.id,
        key="settle:1",
        kind="settlement",
        occurred_on=DAY,
        lines=lines,
        meta={"file": "x.csv"},
    )
    assert [(e.account.name, e.amount) for e in txn.entries] == lines
    assert txn.fingerprint == posting.fingerprint("settle:1", "settlement", DAY, lines)
    assert {a.name: a.kind for a in db.scalars(select(Account))} == {
        "asset:bank": "asset",
        "expense:provider_fees": "expense",
        FLOAT: "asset",
    }
    assert posting.balance(db, mutual.id, "asset:bank") == 9900
    assert posting.balance(db, mutual.id, FLOAT) == -10000
    assert ledger.audit(db) == []


def test_unbalanced_posting_is_refused(db: Session, mutual: Mutual) -> None:
    """Σ debits = Σ credits or nothing is written (payments.md)."""
    with pytest.raises(UnbalancedTransaction):
        posting.post(
            db,
            mutual_id=mutual.id,
            key="k",
            kind="payment",
            occurred_on=DAY,
            lines=[(FLOAT, 500), ("liab:household:1", -400)],
        )
    assert count(db, LedgerTransaction) == 0


@pytest.mark.parametrize("lines", [[], [(FLOAT, 0), ("liab:household:1", 0)]])
def test_empty_or_all_zero_posting_is_refused(db: Session, mutual: Mutual, lines: Any) -> None:
    """A transaction moves money: one with no non-zero line is refused (payments.md)."""
    with pytest.raises(LedgerError, match="empty"):
        posting.post(db, mutual_id=mutual.id, key="k", kind="payment", occurred_on=DAY, lines=lines)


def test_zero_lines_are_dropped(db: Session, mutual: Mutual) -> None:
    """Zero lines carry nothing (and entries are non-zero by constraint)."""
    txn = posting.post(
        db,
        mutual_id=mutual.id,
        key="k",
        kind="payment",
        occurred_on=DAY,
        lines=[(FLOAT, 5), ("expense:provider_fees", 0), ("income:x", -5)],
    )
    assert [e.amount for e in txn.entries] == [5, -5]


@pytest.mark.parametrize("bad", [100.0, True, Decimal(100), "100", None])
def test_non_integer_amount_is_refused(db: Session, mutual: Mutual, bad: Any) -> None:
    """XOF has exponent 0: amounts are integers end to end, never floats or bools (payments.md)."""
    with pytest.raises(LedgerError, match="int"):
        posting.post(
            db,
            mutual_id=mutual.id,
            key="k",
            kind="payment",
            occurred_on=DAY,
            lines=[(FLOAT, bad), ("liab:household:1", -1 if bad is True else -100)],
        )


def test_datetime_or_bad_header_is_refused(db: Session, mutual: Mutual) -> None:
    """The fingerprint hashes a date; a datetime would not survive the round trip."""
    lines = [(FLOAT, 5), ("income:x", -5)]
    with pytest.raises(LedgerError, match="date"):
        posting.post(
            db,
            mutual_id=mutual.id,
            key="k",
            kind="p",
            occurred_on=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            lines=lines,
        )
    with pytest.raises(LedgerError, match="key"):
        posting.post(db, mutual_id=mutual.id, key="", kind="p", occurred_on=DAY, lines=lines)
    with pytest.raises(LedgerError, match="account"):
        posting.post(
            db,
            mutual_id=mutual.id,
            key="k",
            kind="p",
            occurred_on=DAY,
            lines=[("bank", 5), ("income:x", -5)],
        )


def test_replaying_an_event_is_a_no_op(db: Session, mutual: Mutual) -> None:
    """Replaying an event (same key, same lines) returns the first transaction (payments.md)."""
    first = pay(db, mutual, 7, 6000, "pay:R1")
    again = posting.post(
        db,
        mutual_id=mutual.id,
        key="pay:R1",
        kind="payment",
        occurred_on=DAY,
        lines=[("liab:household:7", -6000), (FLOAT, 6000)],  # other order
        description="replayed",
        meta={"n": 2},
    )
    assert again is first
    db.commit()
    assert pay(db, mutual, 7, 6000, "pay:R1").id == first.id
    assert (count(db, LedgerTransaction), count(db, LedgerEntry)) == (1, 2)
    assert posting.household_credit(db, mutual.id, 7) == 6000


def test_same_key_different_amount_is_a_conflict_and_an_alert(
    db: Session, mutual: Mutual, caplog: pytest.LogCaptureFixture
) -> None:
    """The same key with a different amount is an error and an alert (payments.md)."""
    pay(db, mutual, 7, 6000, "pay:R1")
    with (
        caplog.at_level(logging.ERROR, logger="gateway.services.ledger.posting"),
        pytest.raises(IdempotencyConflict, match="pay:R1"),
    ):
        pay(db, mutual, 7, 5000, "pay:R1")
    assert any("idempotency conflict" in r.getMessage() for r in caplog.records)
    with pytest.raises(IdempotencyConflict):  # another date is another event too
        posting.post(
            db,
            mutual_id=mutual.id,
            key="pay:R1",
            kind="payment",
            occurred_on=DAY + dt.timedelta(days=1),
            lines=[(FLOAT, 6000), ("liab:household:7", -6000)],
        )
    assert count(db, LedgerTransaction) == 1


def test_keys_are_per_mutual(db: Session, mutual: Mutual) -> None:
    other = make_mutual(db, code="OTHER")
    assert pay(db, mutual, 1, 100, "pay:1").id != pay(db, other, 1, 200, "pay:1").id
    assert posting.household_credit(db, other.id, 1) == 200


def test_lost_insert_race_replays_without_breaking_the_unit_of_work(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A concurrent poster may insert the key between our look-up and our insert: the savepoint
    absorbs the unique violation and the caller's transaction goes on (both databases)."""
    first = pay(db, mutual, 7, 6000, "pay:R1")
    real_find, calls = posting._find_txn, []

    def blind_once(session: Session, mutual_id: int, key: str) -> LedgerTransaction | None:
        calls.append(key)
        return None if len(calls) == 1 else real_find(session, mutual_id, key)

    monkeypatch.setattr(posting, "_find_txn", blind_once)
    assert pay(db, mutual, 7, 6000, "pay:R1") is first
    with pytest.raises(IdempotencyConflict):
        calls.clear()
        pay(db, mutual, 7, 1, "pay:R1")
    pay(db, mutual, 7, 50, "pay:R2")
    db.commit()
    assert posting.household_credit(db, mutual.id, 7) == 6050


def test_services_never_commit(db: Session, session_factory: sessionmaker[Session]) -> None:
    """The caller owns the transaction; on SQLite a bare SAVEPOINT would commit on RELEASE."""
    mutual = make_mutual(db)
    db.commit()
    with session_factory() as fresh:
        pay(fresh, fresh.get_one(Mutual, mutual.id), 3, 100, "pay:1")
        fresh.rollback()
    assert (count(db, Account), count(db, LedgerTransaction)) == (0, 0)


def test_reversal_negates_and_happens_once(db: Session, mutual: Mutual) -> None:
    """Corrections are reversing transactions; replaying the reversal is a no-op (payments.md)."""
    txn = pay(db, mutual, 7, 6000, "pay:R1")
    rev = posting.reverse(db, txn, key="rev:R1", occurred_on=DAY)
    assert (rev.reverses_id, rev.kind) == (txn.id, "reversal")
    assert sorted((e.account.name, e.amount) for e in rev.entries) == [
        (FLOAT, -6000),
        ("liab:household:7", 6000),
    ]
    assert posting.household_credit(db, mutual.id, 7) == 0
    assert posting.reverse(db, txn, key="rev:R1", occurred_on=DAY) is rev
    with pytest.raises(LedgerError, match="already reversed"):
        posting.reverse(db, txn, key="rev:other", occurred_on=DAY)
    assert count(db, LedgerTransaction) == 2
    assert ledger.audit(db) == []


def test_balance_is_a_sum_of_entries(db: Session, mutual: Mutual) -> None:
    """Balances are sums of entries; `as_of` keeps transactions that occurred by then."""
    household = make_household(db, mutual)
    pay(db, mutual, household.id, 4000, "pay:1")
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:1",
        kind="allocation",
        occurred_on=DAY + dt.timedelta(days=10),
        lines=[(ledger.accounts.household(household.id), 2500), ("income:contributions", -2500)],
    )
    assert ledger.accounts.household(household.id) == f"liab:household:{household.id}"
    assert posting.household_credit(db, mutual.id, household.id) == 1500
    assert posting.balance(db, mutual.id, "income:contributions") == -2500
    assert posting.balance(db, mutual.id, "income:contributions", as_of=DAY) == 0
    assert posting.household_credit(db, mutual.id, household.id + 99) == 0
    assert posting.balance(db, mutual.id + 99, FLOAT) == 0


def test_orm_guard_refuses_edits_and_deletes(db: Session, mutual: Mutual) -> None:
    """Append-only (payments.md): the session refuses to flush an edit or a delete."""
    txn = pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    edits: list[Callable[[], object]] = [
        lambda: setattr(txn.entries[0], "amount", 1),
        lambda: setattr(txn, "description", "edited"),
        lambda: db.delete(txn.entries[0]),
        lambda: db.delete(txn),
        lambda: db.execute(update(LedgerEntry).values(amount=1)),
        lambda: db.execute(delete(LedgerTransaction)),
    ]
    for edit in edits:
        with pytest.raises(AppendOnlyViolation):
            edit()
            db.flush()
        db.rollback()
    assert ledger.audit(db) == []


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entries SET amount = amount + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET kind = 'edited'",
        "DELETE FROM ledger_transactions",
    ],
)
def test_database_triggers_refuse_raw_edits(
    db: Session, mutual: Mutual, engine: Engine, sql: str
) -> None:
    """Append-only holds below the ORM too: migration 0002's triggers (payments.md)."""
    pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    assert posting.household_credit(db, mutual.id, 7) == 6000


def race(factory: sessionmaker[Session], mutual_id: int, key: str) -> list[int]:
    """Two sessions post the same key at the same moment; returns the ids each one got."""
    barrier, ids, errors = threading.Barrier(2), [], []

    def worker() -> None:
        try:
            with factory() as session:
                barrier.wait()
                lines = [(FLOAT, 10), (f"income:{key}", -10)]
                txn = posting.post(
                    session,
                    mutual_id=mutual_id,
                    key=key,
                    kind="payment",
                    occurred_on=DAY,
                    lines=lines,
                )
                session.commit()
                ids.append(txn.id)
        except Exception as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return ids


@pytest.mark.postgres
def test_concurrent_posts_of_one_key_make_one_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    """Exactly-once under concurrency (payments.md): the unique key decides, the loser replays."""
    with session_factory() as setup:
        mutual_id = make_mutual(setup).id
        setup.commit()
    for n in range(5):
        ids = race(session_factory, mutual_id, f"pay:{n}")
        assert len(ids) == 2 and ids[0] == ids[1]
    with session_factory() as check:
        assert count(check, LedgerTransaction) == 5
        assert count(check, Account) == 6
        assert ledger.audit(check) == []
