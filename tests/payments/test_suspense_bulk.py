"""Holding money in suspense in bulk (reconciliation's exceptions): the same items, alerts and
ledger postings as one by one, found items booked once, and races falling back to one by one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Alert, LedgerTransaction, SuspenseItem
from gateway.services import ledger
from gateway.services.ledger import posting
from gateway.services.ledger.errors import IdempotencyConflict
from gateway.services.ledger.posting import Posting
from gateway.services.payments import effects
from gateway.services.payments.effects import Hold, hold_in_bulk
from tests.support.factories import make_mutual

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
FLOAT, SUSPENSE = "asset:float:sandbox", "liab:suspense:sandbox"


def hold(txn: str, amount: int = 3000, reason: str = "unknown_reference") -> Hold:
    return Hold(
        provider="sandbox",
        provider_txn_id=txn,
        amount=amount,
        now=NOW,
        reason=reason,
        currency="XOF",
        reference=f"ref-{txn}",
        msisdn="+22670000001",
    )


def count(db: Session, model: type[object]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def shape(db: Session, item: SuspenseItem) -> tuple[object, ...]:
    alert = db.scalars(select(Alert).where(Alert.subject.like(f"%:{item.provider_txn_id}"))).one()
    txn = db.scalars(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == item.ledger_key)
    ).one()
    return (
        item.amount,
        item.reason,
        item.state,
        item.received_on,
        item.reference == f"ref-{item.provider_txn_id}",
        item.msisdn,
        item.ledger_key is not None,
        alert.kind,
        alert.detail,
        alert.mutual_id,
        txn.kind,
        txn.description.split()[0],
        sorted((e.account.name, e.amount) for e in txn.entries),
    )


def test_bulk_holds_are_what_one_by_one_holds_are(db: Session) -> None:
    mutual = make_mutual(db, code="BLK")
    one = effects.to_suspense(
        db,
        provider="sandbox",
        provider_txn_id="ONE",
        amount=3000,
        now=NOW,
        reason="unknown_reference",
        currency="XOF",
        reference="ref-ONE",
        msisdn="+22670000001",
    )
    effects.book_suspense(db, one, mutual.id)
    items = hold_in_bulk(db, [hold("B2"), hold("B1"), hold("B2")], mutual.id)
    db.flush()
    assert [i.provider_txn_id for i in items] == ["B2", "B1", "B2"]
    assert items[0] is items[2] and items[0].id < items[1].id  # in the holds' order
    for item in items:
        assert item.mutual_id == mutual.id
        assert item.ledger_key == f"suspense:sandbox:{item.provider_txn_id}"
        assert shape(db, item)[:-1] == shape(db, one)[:-1]
        assert shape(db, item)[-1] == [(FLOAT, 3000), (SUSPENSE, -3000)]
    assert posting.balance(db, mutual.id, SUSPENSE) == -9000
    assert count(db, Alert) == 3


def test_found_items_are_booked_once_and_not_alerted_again(db: Session) -> None:
    mutual = make_mutual(db, code="BLK")
    early = effects.to_suspense(  # a callback held it, mutual unknown
        db,
        provider="sandbox",
        provider_txn_id="F1",
        amount=3000,
        now=NOW,
        reason="unknown_reference",
    )
    db.flush()
    assert early.ledger_key is None and count(db, Alert) == 1
    first = hold_in_bulk(db, [hold("F1"), hold("F2")], mutual.id)
    again = hold_in_bulk(db, [hold("F2"), hold("F1")], mutual.id)
    db.flush()
    assert first[0] is early and early.mutual_id == mutual.id
    assert again == [first[1], first[0]]
    assert count(db, SuspenseItem) == 2 and count(db, Alert) == 2
    assert count(db, LedgerTransaction) == 2
    assert posting.balance(db, mutual.id, SUSPENSE) == -6000


def test_a_lost_race_falls_back_to_one_by_one(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    mutual = make_mutual(db, code="BLK")
    hold_in_bulk(db, [hold("R1")], mutual.id)
    db.flush()
    # As if a concurrent holder inserted R1 between the look-up and the insert.
    monkeypatch.setattr(effects, "_held", lambda session, holds: {})
    items = hold_in_bulk(db, [hold("R2"), hold("R1")], mutual.id)
    db.flush()
    assert [i.provider_txn_id for i in items] == ["R2", "R1"]
    assert count(db, SuspenseItem) == 2 and count(db, LedgerTransaction) == 2
    assert posting.balance(db, mutual.id, SUSPENSE) == -6000


def a_posting(key: str, amount: int = 500) -> Posting:
    return Posting(
        key=key,
        kind="suspense",
        occurred_on=NOW.date(),
        lines=[(FLOAT, amount), (SUSPENSE, -amount)],
    )


def test_post_many_posts_once_and_replays_are_no_ops(db: Session) -> None:
    mutual = make_mutual(db, code="BLK")
    posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k1"), a_posting("k2", 700)])
    posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k2", 700), a_posting("k3")])
    posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k4"), a_posting("k4")])
    db.flush()
    assert count(db, LedgerTransaction) == 4
    assert posting.balance(db, mutual.id, FLOAT) == 2200
    assert ledger.audit(db, mutual.id) == []
    with pytest.raises(IdempotencyConflict):
        posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k5"), a_posting("k1", 900)])


def test_post_many_falls_back_when_a_key_was_taken_meanwhile(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    mutual = make_mutual(db, code="BLK")
    posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k1")])
    db.flush()
    monkeypatch.setattr(posting, "_find_txns", lambda session, mutual_id, keys: {})
    posting.post_many(db, mutual_id=mutual.id, postings=[a_posting("k2"), a_posting("k1")])
    db.flush()
    assert count(db, LedgerTransaction) == 2
    assert posting.balance(db, mutual.id, FLOAT) == 1000
