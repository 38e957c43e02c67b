"""The ledger's invariant audit (payments.md, "Ledger"): no edits, every transaction balanced and
with entries in its own mutual, household credit never negative."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gateway.models import LedgerEntry, LedgerTransaction, Mutual
from gateway.services import ledger
from gateway.services.ledger import posting
from tests.support.factories import make_mutual
from tests.support.ledger import DAY, pay, tamper


def test_audit_finds_a_tampered_entry(db: Session, mutual: Mutual, engine: Engine) -> None:
    """No edits (payments.md): the fingerprint betrays an amount changed behind our back."""
    txn = pay(db, mutual, 7, 6000, "pay:R1")
    pay(db, mutual, 8, 100, "pay:R2")
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 60000 WHERE id = :id", id=txn.entries[0].id)
    breaches = ledger.audit(db)
    assert any(f"#{txn.id} 'pay:R1'" in b and "fingerprint" in b for b in breaches)
    assert any(f"#{txn.id} 'pay:R1'" in b and "unbalanced" in b for b in breaches)
    assert not any("'pay:R2'" in b for b in breaches)


def test_audit_finds_an_inserted_entry(db: Session, mutual: Mutual, engine: Engine) -> None:
    """An extra entry unbalances the transaction and breaks its fingerprint (payments.md)."""
    txn = pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    account_id = txn.entries[0].account_id
    with engine.begin() as conn:  # inserts are allowed by the triggers
        conn.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount) "
                "VALUES (:t, :a, 500)"
            ),
            {"t": txn.id, "a": account_id},
        )
    breaches = ledger.audit(db)
    assert len(breaches) == 2
    assert "unbalanced: entries sum to 500" in breaches[0]
    assert "fingerprint" in breaches[1]


def test_audit_finds_negative_household_credit(db: Session, mutual: Mutual) -> None:
    """Household credit is never negative (payments.md)."""
    pay(db, mutual, 7, 1000, "pay:1")
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:1",
        kind="allocation",
        occurred_on=DAY,
        lines=[("liab:household:7", 1500), ("income:contributions", -1500)],
    )
    assert ledger.audit(db) == [
        "account 'liab:household:7' (mutual MUT) has negative household credit -500"
    ]


def test_audit_finds_empty_and_cross_mutual_transactions(db: Session, mutual: Mutual) -> None:
    """A transaction needs entries, all in accounts of its own mutual."""
    other = make_mutual(db, code="OTHER")
    foreign = posting.get_account(db, other.id, "asset:bank")
    txn = pay(db, mutual, 7, 100, "pay:1")
    db.add(LedgerEntry(transaction_id=txn.id, account_id=foreign.id, amount=1))
    db.add(
        LedgerTransaction(
            mutual_id=mutual.id,
            idempotency_key="bare",
            kind="x",
            occurred_on=DAY,
            fingerprint="0" * 64,
        )
    )
    db.flush()
    text_ = "\n".join(ledger.audit(db))
    assert "'bare' (mutual MUT) has no entries" in text_
    assert "uses account 'asset:bank' of mutual OTHER" in text_
    assert ledger.audit(db, other.id) == [next(b for b in ledger.audit(db) if "uses account" in b)]
