"""A tampered ledger stops moving money (payments.md, "Ledger": a failed audit stops automatic
allocation and alerts; D7, D20): the hourly audit job holds the mutual and alerts; while held,
payments of every channel are recorded (payment row, ledger posting) but not allocated and
their receipts wait; another mutual goes on; clearing is refused while the breach remains,
then allocates the held households as of their payment's date and queues the receipts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.models import (
    Agent,
    Alert,
    Allocation,
    CoveragePeriod,
    Household,
    LedgerTransaction,
    Mutual,
    OutboxMessage,
    Payment,
    PaymentIntent,
)
from gateway.services import ledger, reconciliation
from gateway.services.agents import collect_cash
from gateway.services.agents.registry import add_agent
from gateway.services.alerts import open_alerts
from gateway.services.coverage import allocate_due, receive_payment
from gateway.services.payments import ProviderState, StatusResult, effects, flow
from gateway.services.payments.intents import create_intent
from gateway.services.reconciliation import actions
from gateway.services.reconciliation.release import allocate_held
from gateway.settings import Settings
from tests.support.factories import make_household, make_mutual
from tests.support.ledger import pay, tamper
from worker import jobs
from worker.jobs.ledger import ledger_audit

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
CLEARED = NOW + dt.timedelta(days=2)
DUE = 12_000  # two beneficiaries x 6 000 for 2027 (the 2026 join window is closed, D5)
ORIGINAL = 1000
RESTORE = f"UPDATE ledger_entries SET amount = {ORIGINAL} WHERE id = :id"
PHONE_A, PHONE_B, PHONE_C = "+22670123456", "+22670123457", "+22670123458"


@dataclass
class World:
    mutual: Mutual
    other: Mutual
    mobile: Household  # pays by mobile money while MUT is held
    cash: Household  # pays cash to an agent while MUT is held
    elsewhere: Household  # of OTHER, never held
    agent: Agent
    tampered_entry: int


@pytest.fixture
def world(db: Session, engine: Engine) -> World:
    mutual = make_mutual(db)
    other = make_mutual(db, code="OTHER")
    mobile = make_household(db, mutual, members=2, phone=PHONE_A)
    cash = make_household(db, mutual, members=2, phone=PHONE_B)
    elsewhere = make_household(db, other, members=2, phone=PHONE_C)
    older = make_household(db, mutual)
    agent = add_agent(db, mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    txn = pay(db, mutual, older.id, ORIGINAL, "pay:old")  # credit below a share: not allocated
    db.commit()
    entry = txn.entries[0].id
    tamper(engine, "UPDATE ledger_entries SET amount = 60000 WHERE id = :id", id=entry)
    db.expire_all()
    return World(mutual, other, mobile, cash, elsewhere, agent, entry)


@pytest.fixture
def job_clock(database_url: str, tmp_path: Path) -> Iterator[FixedClock]:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    clock = FixedClock(NOW)
    jobs.configure(settings, clock)
    yield clock
    jobs.context().close()


def pay_mobile(db: Session, household: Household, phone: str, txn: str) -> PaymentIntent:
    intent = create_intent(db, household=household, amount=DUE, msisdn=phone, now=NOW)
    db.flush()
    status = StatusResult(ProviderState.SUCCEEDED, amount=DUE, currency="XOF", provider_txn_id=txn)
    assert flow.apply_status(db, intent.id, status, NOW) == "applied"
    return intent


def allocations(db: Session, household: Household) -> list[Allocation]:
    return list(db.scalars(select(Allocation).where(Allocation.household_id == household.id)))


def receipts(db: Session, household: Household) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.household_id == household.id)
    return list(db.scalars(query))


def test_a_tampered_ledger_holds_its_mutual_until_cleared(
    db: Session, engine: Engine, world: World, job_clock: FixedClock
) -> None:
    mutual, w = world.mutual, world
    # The hourly audit: alert naming the breach, MUT on hold, OTHER not; a re-run adds nothing.
    assert ledger_audit() == 2
    assert ledger_audit() == 2
    assert ledger.on_hold(db, mutual.id) and not ledger.on_hold(db, w.other.id)
    alert = open_alerts(db, mutual.id)[0]
    assert alert.kind == "ledger_hold" and len(open_alerts(db)) == 1
    assert "'pay:old' (mutual MUT) does not match its fingerprint" in alert.detail

    # While held: the money is recorded (payment row, ledger posting, credit), not allocated,
    # and no receipt claims a coverage the household does not have.
    intent = pay_mobile(db, w.mobile, PHONE_A, "TXN-A")
    payment = db.get_one(Payment, intent.payment_id)
    assert (payment.amount, payment.paid_on) == (DUE, NOW.date())
    posted = select(LedgerTransaction).where(
        LedgerTransaction.idempotency_key == payment.ledger_key
    )
    assert db.scalars(posted).one().kind == "payment"
    assert ledger.household_credit(db, mutual.id, w.mobile.id) == DUE
    assert allocations(db, w.mobile) == [] and receipts(db, w.mobile) == []
    done = collect_cash(db, agent=w.agent, household=w.cash, amount=DUE, request_key="c1", now=NOW)
    assert done.created and done.receipt is None and done.deferred
    assert db.get_one(Payment, done.collection.payment_id).channel == "cash"
    assert ledger.household_credit(db, mutual.id, w.cash.id) == DUE
    assert allocations(db, w.cash) == [] and receipts(db, w.cash) == []
    replay = collect_cash(
        db, agent=w.agent, household=w.cash, amount=DUE, request_key="c1", now=NOW
    )
    assert not replay.created and replay.deferred  # the agent's screen: the SMS will follow

    # Another mutual is unaffected: allocated and told at once.
    pay_mobile(db, w.elsewhere, PHONE_C, "TXN-C")
    assert len(allocations(db, w.elsewhere)) == 2
    assert [m.template for m in receipts(db, w.elsewhere)] == ["payment_receipt"]
    # The daily job (D7's safety net) allocates nothing for the held mutual either.
    assert allocate_due(db, on=NOW.date() + dt.timedelta(days=1)) == 0
    db.commit()

    # Clearing is refused while the audit still finds the breach.
    with pytest.raises(ledger.BreachesRemain):
        reconciliation.release(db, mutual.id, by="awa", reason="looked", now=CLEARED)
    db.rollback()
    assert ledger.on_hold(db, mutual.id) and allocations(db, w.mobile) == []
    db.commit()  # SQLite: one writer at a time

    # The entry restored from a backup: clearing resumes everything, in one transaction.
    tamper(engine, RESTORE, id=w.tampered_entry)
    db.expire_all()
    released = reconciliation.release(
        db, mutual.id, by="awa", reason="entry restored from backup", now=CLEARED
    )
    assert (released.allocations, released.receipts) == (4, 2)
    assert not ledger.on_hold(db, mutual.id) and open_alerts(db) == []
    for household in (w.mobile, w.cash):
        made = allocations(db, household)
        assert len(made) == 2 and ledger.household_credit(db, mutual.id, household.id) == 0
        # dated the day the member paid, not the day the hold was cleared (D8's effective date)
        assert {a.allocated_on for a in made} == {NOW.date()}
    [mobile_sms] = receipts(db, w.mobile)
    assert mobile_sms.template == "payment_receipt" and mobile_sms.phone == PHONE_A
    assert "PAYE" in mobile_sms.text and intent.reference[:8].upper() in mobile_sms.text
    [cash_sms] = receipts(db, w.cash)
    assert cash_sms.template == "cash_receipt" and done.collection.receipt_code in cash_sms.text
    assert "PAYE" in cash_sms.text
    db.commit()

    # Nothing twice: a second release is refused, a run of the held households adds nothing.
    with pytest.raises(ledger.HoldError, match="not on hold"):
        reconciliation.release(db, mutual.id, by="awa", reason="again", now=CLEARED)
    assert allocate_held(db, mutual.id, held_at=NOW, today=CLEARED.date(), now=CLEARED) == 0
    db.commit()
    assert ledger_audit() == 0 and not ledger.on_hold(db, mutual.id)


def test_money_assigned_from_suspense_while_held_waits_too(
    db: Session, engine: Engine, world: World
) -> None:
    """The reconciliation path (assign a suspense line) records the money, allocates nothing
    while held, and is allocated when the hold is cleared."""
    mutual = world.mutual
    ledger.hold_breached(db, ledger.audit_by_mutual(db), now=NOW)
    item = effects.to_suspense(
        db,
        provider="sandbox",
        provider_txn_id="TX-9",
        amount=DUE,
        now=NOW,
        reason="unknown_reference",
    )
    effects.book_suspense(db, item, mutual.id)
    actions.assign(db, item.id, world.mobile.number, by="awa", now=NOW)
    assert ledger.household_credit(db, mutual.id, world.mobile.id) == DUE
    assert allocations(db, world.mobile) == []
    db.commit()
    tamper(engine, RESTORE, id=world.tampered_entry)
    db.expire_all()
    released = reconciliation.release(db, mutual.id, by="awa", reason="restored", now=CLEARED)
    assert released.allocations == 2 and released.receipts == 0  # no receipt on that path
    assert ledger.household_credit(db, mutual.id, world.mobile.id) == 0


def test_a_forced_release_resumes_with_the_breach_accepted(
    db: Session, world: World, job_clock: FixedClock
) -> None:
    """An operator may accept a breach that cannot be undone: allocation resumes, and the
    next audit (job) does not hold the mutual again for it."""
    ledger_audit()
    pay_mobile(db, world.mobile, PHONE_A, "TXN-A")
    released = reconciliation.release(
        db, world.mutual.id, by="awa", reason="paper books agree", now=CLEARED, force=True
    )
    assert len(released.hold.accepted) == 2 and released.allocations == 2
    db.commit()
    assert ledger_audit() == 2  # still reported...
    assert not ledger.on_hold(db, world.mutual.id)  # ...but accepted
    assert db.scalar(select(func.count()).select_from(Alert)) == 1


def test_payments_recorded_during_a_hold_are_applied_in_date_order_when_cleared(
    db: Session,
) -> None:
    """D7b with a hold: 3 000 dated 06-01 then 3 000 dated 01-10 arrive while the ledger is
    held: nothing is allocated nor reversed; cleared, they are applied in date order (the 6 000
    is complete on 06-01, after the 2026 window: it buys 2027, never 2026)."""
    mutual = make_mutual(db, code="HD")
    household = make_household(db, mutual)
    held_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)  # payments' created_at clock
    ledger.hold(db, mutual.id, ["planted breach"], now=held_at)
    for reference, day in (("LATER", dt.date(2026, 6, 1)), ("EARLIER", dt.date(2026, 1, 10))):
        receive_payment(
            db,
            household=household,
            amount=3000,
            paid_on=day,
            channel="cash",
            reference=reference,
            now=held_at,
        )
    assert allocations(db, household) == []
    reconciliation.release(db, mutual.id, by="awa", reason="checked", now=held_at, force=True)
    [share] = allocations(db, household)
    assert (share.allocated_on, share.member_amount) == (dt.date(2026, 6, 1), 6000)
    assert db.get_one(CoveragePeriod, share.period_id).starts_on == dt.date(2027, 1, 1)
