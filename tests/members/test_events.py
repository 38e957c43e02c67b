"""Household events (D23, issue 18): each type's effect on the register, the ledger and
eligibility on any date; the ledger audit passes after each scenario (acceptance 5)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import (
    AllocationReversal,
    Beneficiary,
    Household,
    HouseholdEvent,
    LedgerTransaction,
    MembershipSpell,
    Product,
)
from gateway.models.household_event import RegisterRowChanged
from gateway.services import ledger
from gateway.services.coverage import (
    allocate_due,
    beneficiary_status,
    load_book,
    receive_payment,
)
from gateway.services.members import EventError, apply_due_product_changes, household_events
from tests.support.events import (
    assert_ledger_clean,
    credit,
    live_shares,
    record,
    status_on,
)
from tests.support.factories import make_household, make_mutual

D = dt.date
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
PAID_ON = D(2026, 1, 10)


def paid_household(db: Session, members: int, years: int) -> tuple[Household, list[Beneficiary]]:
    """A household of `members` enrolled 2025-12-01, paid on 2026-01-10 for `years` years."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, members=members)
    receive_payment(
        db,
        household=household,
        amount=6000 * members * years,
        paid_on=PAID_ON,
        channel="cash",
        reference=f"R-{household.number}",
        now=dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC),
    )
    return household, list(household.beneficiaries)


def test_death_after_prepayment_gives_later_shares_back_as_credit(db: Session) -> None:
    """D7, D23: a child who dies in 2026 owes nothing for 2027; their 2027 share is reversed
    (a reversing transaction and a reversal row), the others' 2027 shares stay as they were
    (same day), and the share is household credit again."""
    household, (head, child, other) = paid_household(db, members=3, years=2)
    assert credit(db, household) == 0
    record(db, household, "death", D(2026, 6, 30), NOW, child, reason="décès")
    reversed_rows = db.scalar(select(func.count()).select_from(AllocationReversal))
    assert reversed_rows == 3  # the 2027 transaction held the three shares: all reversed
    reversals = db.scalars(
        select(LedgerTransaction).where(LedgerTransaction.reverses_id.is_not(None))
    ).all()
    assert len(reversals) == 1
    assert credit(db, household) == 6000  # not enough for 2028's two shares: kept as credit
    assert live_shares(db, household) == sorted(
        [
            (child.number, 2026, PAID_ON),
            (head.number, 2026, PAID_ON),
            (head.number, 2027, PAID_ON),
            (other.number, 2026, PAID_ON),
            (other.number, 2027, PAID_ON),
        ]
    )
    assert status_on(db, household, child, D(2026, 5, 1)) == "COVERED"
    assert status_on(db, household, child, D(2027, 3, 1)) == "REMOVED"
    assert status_on(db, household, head, D(2027, 6, 1)) == "COVERED"
    assert_ledger_clean(db)


def test_freed_share_buys_the_next_period_at_once(db: Session) -> None:
    """D7: credit is applied as soon as it covers the next shares: the dead child's 2027
    share buys the head's 2028."""
    household, (head, child) = paid_household(db, members=2, years=2)
    record(db, household, "depart", D(2026, 3, 31), NOW, child)
    assert credit(db, household) == 0
    assert (head.number, 2028, NOW.date()) in live_shares(db, household)
    assert_ledger_clean(db)


def test_departure_dated_in_the_period_keeps_that_period(db: Session) -> None:
    """D7: only periods starting after the departure are given back."""
    household, (_head, child) = paid_household(db, members=2, years=1)
    record(db, household, "depart", D(2026, 3, 31), NOW, child)
    assert db.scalar(select(func.count()).select_from(AllocationReversal)) == 0
    assert status_on(db, household, child, D(2026, 3, 20)) == "COVERED"
    assert status_on(db, household, child, D(2026, 4, 1)) == "REMOVED"
    assert_ledger_clean(db)


def test_reenrolment_keeps_the_old_spell_and_the_gap_is_removed(db: Session) -> None:
    """D23: re-enrolment opens a new spell and keeps the old one; a date in the gap is
    REMOVED, a date in the old spell answers from its payments."""
    household, (_head, child) = paid_household(db, members=2, years=1)
    record(db, household, "depart", D(2026, 3, 31), NOW, child)
    record(db, household, "reenrol", D(2026, 9, 1), NOW, child)
    spells = db.scalars(select(MembershipSpell)).all()
    assert [(s.starts_on, s.ends_on, s.ended_as) for s in spells] == [
        (D(2025, 12, 1), D(2026, 3, 31), "removed")
    ]
    assert (child.enrolled_on, child.left_on, child.status) == (D(2026, 9, 1), None, "active")
    assert status_on(db, household, child, D(2026, 3, 20)) == "COVERED"
    assert status_on(db, household, child, D(2026, 6, 1)) == "REMOVED"
    assert status_on(db, household, child, D(2026, 10, 1)) == "COVERED"
    with pytest.raises(EventError, match="has not left"):
        record(db, household, "reenrol", D(2026, 10, 1), NOW, child)
    assert_ledger_clean(db)


def test_change_of_head_keeps_the_old_heads_history(db: Session) -> None:
    """D23: the dead head stays a member of the household with their number, allocations
    and events; the spouse becomes head."""
    household, (head, spouse) = paid_household(db, members=2, years=1)
    spouse.relation = "spouse"
    record(db, household, "death", D(2026, 8, 2), NOW, head)
    record(db, household, "change-head", D(2026, 8, 10), NOW, head=spouse.number)
    assert (spouse.relation, head.relation, head.status) == ("head", "other", "deceased")
    assert head.household_id == household.id
    assert (head.number, 2026, PAID_ON) in live_shares(db, household)
    assert status_on(db, household, head, D(2026, 7, 1)) == "COVERED"
    assert status_on(db, household, head, D(2026, 9, 1)) == "REMOVED"
    kinds = [(e.type, e.beneficiary_id) for e in household_events(db, household)]
    assert kinds == [("death", head.id), ("change-head", None)]
    with pytest.raises(EventError, match="already the head"):
        record(db, household, "change-head", D(2026, 8, 11), NOW, head=spouse.number)


def test_suspension_with_reason_and_lifting(db: Session) -> None:
    """D11 SUSPENDED with its reason from its effective date; lifting restores the status the
    payments give; a date inside the lifted suspension still answers SUSPENDED (D23: a past
    claim is checked against the register of that day)."""
    household, (_head, child) = paid_household(db, members=2, years=1)
    record(db, household, "suspend", D(2026, 12, 1), NOW, child, reason="fraude à la carte")
    db.expire_all()
    assert (child.status, child.status_reason) == ("suspended", "fraude à la carte")
    assert status_on(db, household, child, D(2026, 12, 2)) == "SUSPENDED"
    assert status_on(db, household, child, D(2026, 11, 30)) == "COVERED"
    with pytest.raises(EventError, match="only an active"):
        record(db, household, "suspend", D(2026, 12, 2), NOW, child, reason="encore")
    with pytest.raises(EventError, match="lift on or after"):
        record(db, household, "lift", D(2026, 11, 5), NOW, child, reason="trop tôt")
    record(db, household, "lift", D(2026, 12, 5), NOW, child, reason="enquête close")
    assert status_on(db, household, child, D(2026, 12, 6)) == "COVERED"
    assert status_on(db, household, child, D(2026, 12, 5)) == "COVERED"
    assert status_on(db, household, child, D(2026, 12, 4)) == "SUSPENDED"
    assert child.status_reason is None
    book = load_book(db, household)
    assert beneficiary_status(book, child, D(2026, 12, 3)).reason == "fraude à la carte"
    assert_ledger_clean(db)


def test_category_change_starts_automatic_periods_at_its_effective_date(db: Session) -> None:
    """D3: an indigent certificate effective 2026-06-15: the first automatic period is the
    one open that day (2027: the 2026 join window had closed), nothing in 2026."""
    mutual = make_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    household = make_household(db, mutual, members=2)
    record(db, household, "category", D(2026, 6, 15), NOW, category="indigent", certificate="C-17")
    assert (household.category, household.category_since) == ("indigent", D(2026, 6, 15))
    assert live_shares(db, household) == []
    allocate_due(db, on=D(2027, 1, 1))
    assert {year for _n, year, _d in live_shares(db, household)} == {2027}
    event = household_events(db, household)[0]
    assert (event.payload["certificate"], event.payload["previous"]) == ("C-17", "standard")
    assert_ledger_clean(db)


def test_product_change_refused_mid_period_and_applied_at_the_boundary(db: Session) -> None:
    """D23: refused mid-period (the message names the next boundary); a change dated at the
    next boundary waits and applies that day: shares bought for later periods under the old
    product go back to credit."""
    household, (head,) = paid_household(db, members=1, years=2)
    plus = Product(
        mutual_id=household.mutual_id,
        code="PLUS",
        name="Plus",
        period="year",
        contribution=9000,
        registration_fee=0,
        waiting_days=60,
        grace_days=30,
        join_window_days=30,
        coverage_start="01-01",
    )
    db.add(plus)
    db.flush()
    with pytest.raises(EventError, match="the next is 2027-01-01"):
        record(db, household, "product", D(2026, 12, 7), NOW, product="PLUS")
    recorded = record(db, household, "product", D(2027, 1, 1), NOW, product="PLUS")
    assert recorded.event.payload["applied"] is False
    assert household.product.code == "STD"
    assert apply_due_product_changes(db, now=NOW) == 0
    new_year = dt.datetime(2027, 1, 1, 8, tzinfo=dt.UTC)
    assert apply_due_product_changes(db, now=new_year) == 1
    assert apply_due_product_changes(db, now=new_year) == 0  # safe to run twice
    db.expire_all()
    assert household.product.code == "PLUS"
    assert live_shares(db, household) == [(head.number, 2026, PAID_ON)]
    assert credit(db, household) == 6000  # the 2027 share, short of PLUS's 9 000
    assert_ledger_clean(db)


def test_added_newborn_owes_the_current_period(db: Session) -> None:
    """D5, D23: a newborn added during a paid period owes that period's share."""
    household, _ = paid_household(db, members=1, years=1)
    record(
        db,
        household,
        "add-dependant",
        D(2026, 12, 1),
        NOW,
        number=f"{household.number}09",
        name="Awa",
        sex="F",
        birth_date="2026-11-20",
    )
    baby = db.scalars(select(Beneficiary).where(Beneficiary.full_name == "Awa")).one()
    assert (baby.birth_date, baby.relation, baby.enrolled_on) == (
        D(2026, 11, 20),
        "child",
        D(2026, 12, 1),
    )
    assert status_on(db, household, baby, D(2026, 12, 2)) == "NOT_COVERED"
    receive_payment(
        db,
        household=household,
        amount=6000,
        paid_on=D(2026, 12, 7),
        channel="cash",
        reference="BABY",
        now=NOW,
    )
    assert (baby.number, 2026, D(2026, 12, 7)) in live_shares(db, household)
    with pytest.raises(EventError, match="already used"):
        record(db, household, "add-dependant", D(2026, 12, 1), NOW, number=baby.number, name="X")
    assert_ledger_clean(db)


def test_correction_keeps_old_values_and_moves_no_money(db: Session) -> None:
    household, (head,) = paid_household(db, members=1, years=1)
    before = db.scalar(select(func.count()).select_from(LedgerTransaction))
    old_name = head.full_name
    record(db, household, "correct", NOW.date(), NOW, head, full_name="Issa Ouédraogo", sex="M")
    assert head.full_name == "Issa Ouédraogo"
    event = household_events(db, household)[0]
    assert event.payload["old"] == {"full_name": old_name, "sex": "M"}
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == before
    with pytest.raises(EventError, match="sex"):
        record(db, household, "correct", NOW.date(), NOW, head, sex="X")


def test_a_duplicate_submission_records_one_event(db: Session) -> None:
    """D23: the same event submitted twice (a replayed request) is recorded and applied once."""
    household, (_head, child) = paid_household(db, members=2, years=2)
    first = record(db, household, "depart", D(2026, 6, 30), NOW, child)
    again = record(db, household, "depart", D(2026, 6, 30), NOW, child, reason="bis")
    assert (first.created, again.created, again.event.id) == (True, False, first.event.id)
    assert db.scalar(select(func.count()).select_from(HouseholdEvent)) == 1
    assert_ledger_clean(db)


def test_events_are_kept_forever(db: Session) -> None:
    household, (_head, child) = paid_household(db, members=2, years=1)
    event = record(db, household, "suspend", D(2026, 12, 1), NOW, child, reason="x").event
    event.reason = "changed"
    with pytest.raises(RegisterRowChanged):
        db.flush()
    db.rollback()


def test_bad_events_are_refused(db: Session) -> None:
    household, (head,) = paid_household(db, members=1, years=1)
    with pytest.raises(EventError, match="in the future"):
        record(db, household, "depart", D(2027, 1, 1), NOW, head)
    with pytest.raises(EventError, match="reason is required"):
        record(db, household, "suspend", D(2026, 12, 1), NOW, head, reason=" ")
    with pytest.raises(EventError, match="unknown event type"):
        record(db, household, "explode", D(2026, 12, 1), NOW, head)
    with pytest.raises(EventError, match="needs a beneficiary"):
        record(db, household, "depart", D(2026, 12, 1), NOW)
    with pytest.raises(EventError, match="category 'vip'"):
        record(db, household, "category", D(2026, 12, 1), NOW, category="vip")
    other = make_household(db, household.mutual, members=1)
    with pytest.raises(EventError, match="is not in household"):
        record(db, other, "depart", D(2026, 12, 1), NOW, head)


def test_death_recorded_late_in_a_subsidised_household(db: Session) -> None:
    """D3, D7: a 0-share household's automatic 2027 shares were allocated on 2027-01-01; a
    death on 2026-12-15 recorded in June 2027 reverses the dead member's 2027 share (the
    funder no longer owes it) and keeps the others' as they were."""
    mutual = make_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    household = make_household(db, mutual, members=2, category="indigent")
    head, child = household.beneficiaries
    allocate_due(db, on=D(2027, 1, 1))
    receivable = "asset:receivable:MASSN"
    owed = ledger.balance(db, mutual.id, receivable)
    assert owed == 12000
    june = dt.datetime(2027, 6, 1, 9, tzinfo=dt.UTC)
    record(db, household, "death", D(2026, 12, 15), june, child)
    assert ledger.balance(db, mutual.id, receivable) == 6000
    assert [(n, y) for n, y, _d in live_shares(db, household) if y == 2027] == [(head.number, 2027)]
    assert status_on(db, household, head, D(2027, 5, 1)) == "COVERED"
    assert status_on(db, household, child, D(2027, 5, 1)) == "REMOVED"
    assert_ledger_clean(db)


def test_a_suspended_member_who_leaves_and_reenrols_is_not_suspended_any_more(
    db: Session,
) -> None:
    """D11, D23: a departure ends a suspension; the new spell starts without it, while the
    days of the old suspension still answer SUSPENDED."""
    household, (_head, child) = paid_household(db, members=2, years=1)
    record(db, household, "suspend", D(2026, 3, 1), NOW, child, reason="fraude")
    record(db, household, "depart", D(2026, 3, 31), NOW, child)
    record(db, household, "reenrol", D(2026, 9, 1), NOW, child)
    assert status_on(db, household, child, D(2026, 3, 15)) == "SUSPENDED"
    assert status_on(db, household, child, D(2026, 6, 1)) == "REMOVED"
    assert status_on(db, household, child, D(2026, 10, 1)) == "COVERED"
    assert_ledger_clean(db)


def test_money_events_wait_while_the_ledger_is_on_hold(db: Session) -> None:
    """payments.md, Ledger: a failed audit holds the mutual; a departure (which reverses
    entries) is refused until it is cleared, and changes nothing."""
    household, (_head, child) = paid_household(db, members=2, years=2)
    ledger.hold(db, household.mutual_id, ["a breach"], now=NOW)
    with pytest.raises(EventError, match="on hold"):
        record(db, household, "death", D(2026, 6, 30), NOW, child)
    assert child.status == "active"
    assert db.scalar(select(func.count()).select_from(AllocationReversal)) == 0
    record(db, household, "suspend", D(2026, 6, 30), NOW, child)  # no money: recorded
