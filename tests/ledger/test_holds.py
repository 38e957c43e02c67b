"""A mutual's ledger on hold (payments.md, "Ledger": a failed audit stops automatic allocation and
alerts; D7): the audit per mutual, hold and its alert, the cheap check, clearing (who, when,
why; refused while breaches remain unless forced), the history kept."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.models import Alert, LedgerEntry, LedgerHold, Mutual
from gateway.services import ledger
from gateway.services.ledger import holds, posting
from tests.support.factories import make_mutual
from tests.support.ledger import pay, tamper

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=3)


def tampered(db: Session, engine: Engine, mutual: Mutual, key: str = "pay:1") -> str:
    """A payment whose entry was edited behind the application's back; its fingerprint line."""
    txn = pay(db, mutual, 7, 6000, key)
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 60000 WHERE id = :id", id=txn.entries[0].id)
    db.expire_all()
    found = ledger.audit_by_mutual(db)[mutual.id]
    return next(line for line in found if "fingerprint" in line)


def restore(engine: Engine, db: Session) -> None:
    """Undo `tampered`'s edit (the first entry back to 6 000), as from a backup."""
    entry_id = db.scalar(select(func.min(LedgerEntry.id)))
    db.commit()  # SQLite: one writer at a time
    tamper(engine, "UPDATE ledger_entries SET amount = 6000 WHERE id = :id", id=entry_id)
    db.expire_all()


def count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_audit_groups_breaches_by_mutual(db: Session, mutual: Mutual, engine: Engine) -> None:
    """The audit per mutual: a clean mutual has no key; an entry in another mutual's account
    taints both ledgers."""
    other = make_mutual(db, code="OTHER")
    clean = make_mutual(db, code="CLEAN")
    pay(db, clean, 9, 100, "pay:clean")
    line = tampered(db, engine, mutual)
    grouped = ledger.audit_by_mutual(db)
    assert set(grouped) == {mutual.id}
    assert line in grouped[mutual.id] and len(grouped[mutual.id]) == 2  # unbalanced too
    assert ledger.audit_by_mutual(db, clean.id) == {}
    assert ledger.audit_by_mutual(db, mutual.id) == {mutual.id: grouped[mutual.id]}
    foreign = posting.get_account(db, other.id, "asset:bank")
    txn = pay(db, clean, 9, 50, "pay:clean2")
    db.add(LedgerEntry(transaction_id=txn.id, account_id=foreign.id, amount=1))
    db.flush()
    grouped = ledger.audit_by_mutual(db)
    cross = [b for b in ledger.audit(db) if "of mutual OTHER" in b]
    assert len(cross) == 1
    assert cross[0] in grouped[clean.id] and cross[0] in grouped[other.id]
    assert ledger.audit_by_mutual(db, other.id) == {other.id: cross}


def test_hold_records_the_breaches_and_alerts_once(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    """A failed audit stops allocation and alerts (payments.md): one hold, one alert naming
    the breach, whatever the number of audits; another mutual is not held."""
    other = make_mutual(db, code="OTHER")
    line = tampered(db, engine, mutual)
    assert not ledger.on_hold(db, mutual.id)
    found = ledger.audit_by_mutual(db)
    held = ledger.hold_breached(db, found, now=NOW)
    assert [h.mutual_id for h in held] == [mutual.id]
    assert ledger.on_hold(db, mutual.id) and not ledger.on_hold(db, other.id)
    hold = held[0]
    assert hold.set_at == NOW and hold.breaches == found[mutual.id] and hold.cleared_at is None
    alert = db.get_one(Alert, hold.alert_id)
    assert (alert.kind, alert.subject, alert.mutual_id) == ("ledger_hold", "ledger:MUT", mutual.id)
    assert line in alert.detail and "gateway ledger clear --mutual MUT" in alert.detail
    assert "automatic allocation" in alert.detail
    again = ledger.hold_breached(db, ledger.audit_by_mutual(db), now=LATER)
    assert [h.id for h in again] == [hold.id]
    assert (count(db, LedgerHold), count(db, Alert)) == (1, 1)


def test_hold_needs_a_breach(db: Session, mutual: Mutual) -> None:
    assert ledger.hold(db, mutual.id, [], now=NOW) is None
    assert not ledger.on_hold(db, mutual.id)


def test_alert_lists_the_first_breaches_only() -> None:
    breaches = [f"breach {i}" for i in range(8)]
    detail = holds.alert_detail("MUT", breaches)
    assert "8 breach(es)" in detail and "breach 4" in detail and "breach 5" not in detail
    assert detail.endswith("and 3 more (gateway ledger hold --mutual MUT)")


def test_clear_is_refused_while_breaches_remain(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    """Clearing resumes allocation: not on a ledger the audit still finds breached."""
    line = tampered(db, engine, mutual)
    ledger.hold_breached(db, ledger.audit_by_mutual(db), now=NOW)
    with pytest.raises(ledger.BreachesRemain) as refused:
        ledger.clear(db, mutual.id, "awa", "checked", now=LATER)
    assert line in refused.value.breaches and "2 breach(es) remain" in str(refused.value)
    assert ledger.on_hold(db, mutual.id)
    db.commit()
    restore(engine, db)
    cleared = ledger.clear(db, mutual.id, " awa ", " entry restored from the backup ", now=LATER)
    assert (cleared.cleared_at, cleared.cleared_by) == (LATER, "awa")
    assert (cleared.clear_reason, cleared.accepted) == ("entry restored from the backup", [])
    assert not ledger.on_hold(db, mutual.id)
    alert = db.get_one(Alert, cleared.alert_id)
    assert alert.resolved_at == LATER


@pytest.mark.parametrize(
    ("by", "reason", "message"),
    [("", "ok", "say who"), ("awa", "  ", "a reason is required"), ("awa", "ok", "not on hold")],
)
def test_clear_needs_who_why_and_a_hold(
    db: Session, mutual: Mutual, by: str, reason: str, message: str
) -> None:
    with pytest.raises(ledger.HoldError, match=message):
        ledger.clear(db, mutual.id, by, reason, now=NOW)


def test_forced_clear_accepts_the_breaches_left(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    """An operator may accept breaches that cannot be undone: the next audits do not hold the
    mutual again for them, but a new breach does, with a new alert; history is kept."""
    tampered(db, engine, mutual)
    first = ledger.hold_breached(db, ledger.audit_by_mutual(db), now=NOW)[0]
    found = ledger.audit_by_mutual(db)[mutual.id]
    cleared = ledger.clear(db, mutual.id, "awa", "amount confirmed on paper", now=LATER, force=True)
    assert cleared.accepted == found
    assert ledger.accepted_breaches(db, mutual.id) == set(found)
    assert ledger.hold_breached(db, ledger.audit_by_mutual(db), now=LATER) == []
    assert not ledger.on_hold(db, mutual.id)
    db.commit()
    txn = pay(db, mutual, 8, 500, "pay:2")
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=txn.entries[0].id)
    db.expire_all()
    second = ledger.hold_breached(db, ledger.audit_by_mutual(db), now=LATER)[0]
    assert second.id != first.id and all("'pay:2'" in b for b in second.breaches)
    assert second.alert_id not in (None, first.alert_id)
    assert [h.id for h in ledger.hold_history(db, mutual.id)] == [second.id, first.id]
    with pytest.raises(ledger.BreachesRemain) as refused:  # the accepted ones do not count
        ledger.clear(db, mutual.id, "awa", "checked", now=LATER)
    assert all("'pay:2'" in b for b in refused.value.breaches)


def test_a_concurrent_hold_is_found_not_doubled(
    db: Session, mutual: Mutual, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two audits at once: the partial unique index keeps one open hold per mutual, and the
    loser returns the winner's hold."""
    tampered(db, engine, mutual)
    found = ledger.audit_by_mutual(db)[mutual.id]
    db.add(LedgerHold(mutual_id=mutual.id, set_at=NOW, breaches=found, accepted=[]))
    db.commit()
    winner = db.scalars(select(LedgerHold)).one()
    real = holds.open_hold
    calls: list[int] = []

    def not_seen_at_first(
        session: Session, mutual_id: int, *, lock: bool = False
    ) -> LedgerHold | None:
        calls.append(mutual_id)  # the first probe misses, as a concurrent insert not yet visible
        return None if len(calls) == 1 else real(session, mutual_id, lock=lock)

    monkeypatch.setattr(holds, "open_hold", not_seen_at_first)
    assert holds.hold(db, mutual.id, found, now=LATER) is winner
    assert count(db, LedgerHold) == 1 and count(db, Alert) == 0
