"""People resolve exceptions (payments.md, "Reconciliation"): assign a suspense line to a
household (Dr suspense / Cr household, then D7 allocation), ignore it with a reason; above the
approval threshold a second, different person approves; every action recorded; of two people
assigning the same line at once exactly one succeeds."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Household, Mutual, ReconAction, SuspenseItem
from gateway.services.ledger import posting
from gateway.services.payments import effects
from gateway.services.reconciliation import actions
from gateway.services.reconciliation.actions import AlreadyResolved
from gateway.services.reconciliation.reconcile import ReconcileError
from tests.support.factories import make_household, make_mutual

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def mutual_with_threshold(mutual: Mutual) -> Mutual:
    """Corrections above 10 000 wait for a second operator's approval."""
    mutual.payment_settings = {"approval_threshold": 10000}
    return mutual


@pytest.fixture
def household(db: Session, mutual_with_threshold: Mutual) -> Household:
    return make_household(db, mutual_with_threshold, number="2001")


def held(db: Session, mutual: Mutual | None, amount: int, txn: str = "TX-1") -> SuspenseItem:
    item = effects.to_suspense(
        db,
        provider="sandbox",
        provider_txn_id=txn,
        amount=amount,
        now=NOW,
        reason="unknown_reference",
    )
    if mutual is not None:
        item.mutual_id = mutual.id
        item.ledger_key = f"suspense:sandbox:{txn}"
        posting.post(
            db,
            mutual_id=mutual.id,
            key=item.ledger_key,
            kind="suspense",
            occurred_on=NOW.date(),
            lines=[("asset:float:sandbox", amount), ("liab:suspense:sandbox", -amount)],
        )
    db.flush()
    return item


def test_assign_moves_the_money_to_the_household_and_allocates(
    db: Session, mutual_with_threshold: Mutual, household: Household
) -> None:
    item = held(db, mutual_with_threshold, 6000)
    action = actions.assign(db, item.id, "2001", by="awa", reason="called the member", now=NOW)
    assert (action.state, action.by, action.reason) == ("DONE", "awa", "called the member")
    assert (item.state, item.household_id, item.resolved_by) == ("ASSIGNED", household.id, "awa")
    assert posting.balance(db, mutual_with_threshold.id, "liab:suspense:sandbox") == 0
    # D7: 6 000 XOF buys the household's year; nothing left as credit.
    assert posting.household_credit(db, mutual_with_threshold.id, household.id) == 0
    assert posting.balance(db, mutual_with_threshold.id, "income:contributions") == -6000


def test_assign_an_unbooked_line_books_it_in_the_household_mutual(
    db: Session, mutual_with_threshold: Mutual, household: Household
) -> None:
    item = held(db, None, 3000)
    actions.assign(db, item.id, "2001", by="awa", now=NOW)
    assert item.mutual_id == mutual_with_threshold.id and item.ledger_key is not None
    assert posting.balance(db, mutual_with_threshold.id, "asset:float:sandbox") == 3000
    assert posting.household_credit(db, mutual_with_threshold.id, household.id) == 3000


def test_above_the_threshold_a_second_person_approves(
    db: Session, mutual_with_threshold: Mutual, household: Household
) -> None:
    item = held(db, mutual_with_threshold, 12000)
    action = actions.assign(db, item.id, "2001", by="awa", reason="receipt seen", now=NOW)
    assert action.state == "PENDING" and item.state == "OPEN"
    with pytest.raises(ReconcileError, match="another person must approve"):
        actions.approve(db, action.id, by="awa", now=NOW)
    with pytest.raises(ReconcileError, match="already awaits approval"):
        actions.assign(db, item.id, "2001", by="issa", now=NOW)
    actions.approve(db, action.id, by="issa", now=NOW)
    assert (action.state, action.approved_by) == ("DONE", "issa")
    assert item.state == "ASSIGNED" and item.resolved_by == "awa"
    kinds = [(a.kind, a.by) for a in db.scalars(select(ReconAction).order_by(ReconAction.id))]
    assert kinds == [("assign", "awa"), ("approve", "issa")]
    assert posting.balance(db, mutual_with_threshold.id, "liab:suspense:sandbox") == 0
    contributions = posting.balance(db, mutual_with_threshold.id, "income:contributions")
    assert contributions == -12000  # two years (D7)


def test_ignore_needs_a_reason_and_closes_the_line(
    db: Session, mutual_with_threshold: Mutual
) -> None:
    item = held(db, mutual_with_threshold, 500)
    with pytest.raises(ReconcileError, match="--reason is required"):
        actions.ignore(db, item.id, reason=" ", by="awa", now=NOW)
    actions.ignore(db, item.id, reason="test payment by the operator", by="awa", now=NOW)
    assert item.state == "IGNORED" and item.note == "test payment by the operator"
    with pytest.raises(AlreadyResolved, match="already IGNORED"):
        actions.assign(db, item.id, "2001", by="issa", now=NOW)


def test_bad_input_changes_nothing(
    db: Session, mutual_with_threshold: Mutual, household: Household
) -> None:
    item = held(db, mutual_with_threshold, 500)
    with pytest.raises(ReconcileError, match="no suspense line 999"):
        actions.assign(db, 999, "2001", by="awa", now=NOW)
    with pytest.raises(ReconcileError, match="unknown household"):
        actions.assign(db, item.id, "9999", by="awa", now=NOW)
    with pytest.raises(ReconcileError, match="--by must name"):
        actions.assign(db, item.id, "2001", by="", now=NOW)
    assert item.state == "OPEN" and db.scalars(select(ReconAction)).first() is None


def test_exceptions_list_open_lines_and_pending_approvals(
    db: Session, mutual_with_threshold: Mutual, household: Household
) -> None:
    small, large = (
        held(db, mutual_with_threshold, 500, "TX-1"),
        held(db, mutual_with_threshold, 20000, "TX-2"),
    )
    pending = actions.assign(db, large.id, "2001", by="awa", now=NOW)
    found = actions.exceptions(db, mutual_with_threshold)
    assert [s["id"] for s in found["suspense"]] == [small.id, large.id]
    assert [(a["id"], a["household"], a["amount"]) for a in found["pending_approvals"]] == [
        (pending.id, "2001", 20000)
    ]


@pytest.mark.postgres
def test_two_supervisors_assign_the_same_line_at_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as setup:
        mutual = make_mutual(setup, code="RACE")
        make_household(setup, mutual, number="3001")
        make_household(setup, mutual, number="3002")
        item_id = held(setup, mutual, 6000).id
        setup.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def supervisor(number: str, who: str) -> None:
        with session_factory() as session:
            barrier.wait()
            try:
                actions.assign(session, item_id, number, by=who, now=NOW)
                session.commit()
                outcomes.append("ok")
            except AlreadyResolved:
                session.rollback()
                outcomes.append("refused")

    threads = [
        threading.Thread(target=supervisor, args=("3001", "awa")),
        threading.Thread(target=supervisor, args=("3002", "issa")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["ok", "refused"]
    with session_factory() as check:
        item = check.get_one(SuspenseItem, item_id)
        assert item.state == "ASSIGNED"
        assert posting.balance(check, item.mutual_id or 0, "liab:suspense:sandbox") == 0
        assert len(list(check.scalars(select(ReconAction)))) == 1


MUTUAL_TOML = """
[mutual]
code = "THR"
name = "Mutuelle seuil"
country = "BF"
timezone = "Africa/Ouagadougou"

[payment]
approval_threshold = {threshold}
settlement_lag_hours = 24

[[products]]
code = "STD"
name = "Base"
contribution = 6000
"""


def test_the_threshold_comes_from_the_mutual_file(db: Session) -> None:
    from gateway.services.mutuals.config import ConfigError, load_mutual
    from gateway.services.reconciliation.reconcile import approval_threshold, lag_hours

    mutual = load_mutual(db, MUTUAL_TOML.format(threshold=25000))
    assert approval_threshold(mutual) == 25000 and lag_hours(mutual) == 24
    with pytest.raises(ConfigError) as raised:
        load_mutual(db, MUTUAL_TOML.format(threshold='"lots"'))
    assert raised.value.problems[0].startswith("payment.approval_threshold: must be a whole")


def test_the_default_threshold_is_50000(db: Session) -> None:
    from gateway.services.reconciliation.reconcile import approval_threshold

    assert approval_threshold(make_mutual(db, code="DEF")) == 50000
