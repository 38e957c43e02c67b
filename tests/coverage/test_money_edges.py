"""Money rules at the edges (issue 14): no back-filled subsidies (D3), a dependant paid for
after the join window (D5), credit applied at once (D7), payments allocated in date order
whatever their arrival (D7b), and payments far above what is owed held for an operator."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.models import Alert, Allocation, AllocationReversal, CoveragePeriod, Household, Payment
from gateway.services import ledger
from gateway.services.coverage import (
    NotHeld,
    allocate_due,
    held_payments,
    live_allocation,
    receive_payment,
    release_payment,
)
from gateway.services.coverage.query import coverage
from gateway.services.ledger import posting
from gateway.services.members import COLUMNS, import_members
from tests.support.factories import add_beneficiary, make_household, make_mutual

D = dt.date
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
INDIGENT: dict[str, Any] = {"subsidies": [("indigent", 0, "MASSN")], "levies": [("FGN", 300)]}


def pay(db: Session, household: Household, amount: int, day: dt.date, ref: str) -> Payment:
    payment, _ = receive_payment(
        db,
        household=household,
        amount=amount,
        paid_on=day,
        channel="cash",
        reference=ref,
        now=NOW,
    )
    return payment


def live(db: Session, household: Household) -> list[tuple[str, dt.date, dt.date]]:
    """(member number, period start, allocation day) of the allocations that count."""
    rows = db.execute(
        select(Allocation.beneficiary_id, CoveragePeriod.starts_on, Allocation.allocated_on)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .where(Allocation.household_id == household.id, live_allocation())
    )
    numbers: dict[int | None, str] = {b.id: b.number for b in household.beneficiaries}
    return sorted((numbers[b], start, day) for b, start, day in rows)


def members_csv(rows: list[dict[str, str]]) -> io.StringIO:
    lines = [",".join(COLUMNS)]
    for row in rows:
        lines.append(",".join(row.get(column, "") for column in COLUMNS))
    return io.StringIO("\n".join(lines) + "\n")


def family(number: str, category: str, enrolled: str, **extra: str) -> list[dict[str, str]]:
    head = {
        "household_number": number,
        "member_number": f"{number}-1",
        "full_name": "Awa Traore",
        "sex": "F",
        "birth_date": "1980-01-01",
        "relationship": "head",
        "phone": "+22670000001",
        "category": category,
        "enrolled_on": enrolled,
    }
    child = {
        "household_number": number,
        "member_number": f"{number}-2",
        "full_name": "Ali Traore",
        "sex": "M",
        "birth_date": "2010-01-01",
        "relationship": "child",
        "enrolled_on": enrolled,
        **extra,
    }
    return [head, child]


def household_of(db: Session, number: str) -> Household:
    return db.scalars(select(Household).where(Household.number == number)).one()


# D3: automatic periods are never back-filled ------------------------------------------------


def test_d3_indigent_imported_years_after_enrolment_is_not_back_filled(db: Session) -> None:
    """D3: imported on 2026-06-15 (join window closed) with an enrolment in 2019: no period
    before 2027 is allocated or shown as paid; the State owes nothing for the past."""
    mutual = make_mutual(db, **INDIGENT)
    import_members(
        db, mutual, members_csv(family("H1", "indigent", "2019-03-01")), today=D(2026, 6, 15)
    )
    household = household_of(db, "H1")
    assert live(db, household) == []
    assert posting.balance(db, mutual.id, "asset:receivable:MASSN") == 0
    past = coverage(db, "H1-1", D(2025, 6, 1))  # never covered before the certificate
    assert (past["status"], past["from"]) == ("WAITING", "2027-03-02")
    told = coverage(db, "H1-1", D(2026, 7, 1))  # the funder pays 2027 for certain (D11)
    assert (told["status"], told["from"]) == ("WAITING", "2027-03-02")
    assert allocate_due(db, on=D(2027, 1, 1)) == 2
    assert [start for _, start, _ in live(db, household)] == [D(2027, 1, 1)] * 2
    assert posting.balance(db, mutual.id, "asset:receivable:MASSN") == 12000
    assert posting.balance(db, mutual.id, "liab:levy:FGN") == -360
    assert ledger.audit(db) == []


def test_d3_indigent_recorded_inside_the_join_window_is_paid_from_that_day(db: Session) -> None:
    """D3: recorded on 2026-01-20 (window open): 2026 is allocated that day, never dated
    before it (no allocation dated before the day it was made)."""
    mutual = make_mutual(db, **INDIGENT)
    import_members(
        db, mutual, members_csv(family("H2", "indigent", "2019-03-01")), today=D(2026, 1, 20)
    )
    household = household_of(db, "H2")
    assert live(db, household) == [
        ("H2-1", D(2026, 1, 1), D(2026, 1, 20)),
        ("H2-2", D(2026, 1, 1), D(2026, 1, 20)),
    ]
    assert coverage(db, "H2-1", D(2026, 2, 1))["status"] == "WAITING"


def test_d3_category_becoming_indigent_counts_from_the_change(db: Session) -> None:
    """D3: a standard household since 2020 certified indigent on 2026-06-15: automatic periods
    from 2027, nothing for 2020-2026."""
    mutual = make_mutual(db, **INDIGENT)
    import_members(
        db, mutual, members_csv(family("H3", "standard", "2020-02-01")), today=D(2020, 2, 1)
    )
    import_members(
        db, mutual, members_csv(family("H3", "indigent", "2020-02-01")), today=D(2026, 6, 15)
    )
    household = household_of(db, "H3")
    assert household.category_since == D(2026, 6, 15)
    assert live(db, household) == []
    assert coverage(db, "H3-1", D(2024, 6, 1))["from"] == "2027-03-02"  # nothing before
    allocate_due(db, on=D(2027, 1, 2))
    assert {start for _, start, _ in live(db, household)} == {D(2027, 1, 1)}


def test_d3_a_late_job_never_allocates_a_period_that_has_ended(db: Session) -> None:
    """D3: monthly product; the job first runs on 03-10: January and February had ended and
    are not allocated; March is allocated that day."""
    mutual = make_mutual(db, period="month", contribution=500, join_window_days=5, **INDIGENT)
    household = make_household(
        db, mutual, members=1, category="indigent", enrolled_on=D(2026, 1, 1)
    )
    household.category_since = D(2026, 1, 1)
    allocate_due(db, on=D(2026, 3, 10))
    assert live(db, household) == [
        (household.beneficiaries[0].number, D(2026, 3, 1), D(2026, 3, 10))
    ]


# D5: a dependant added inside the join window, paid for after it ----------------------------


def test_d5_dependant_enrolled_in_the_window_is_paid_for_the_current_period(db: Session) -> None:
    """D5 revised: the household is paid for 2026, the child (enrolled 01-20, inside the
    window) is not: the child's share buys 2026, not credit that waits forever."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, members=2)
    pay(db, household, 12000, D(2026, 1, 10), "A")
    child = add_beneficiary(db, household, enrolled_on=D(2026, 1, 20))
    due = coverage(db, household.number, D(2026, 3, 15))
    assert due["amount_due"] == 6000
    pay(db, household, 6000, D(2026, 3, 15), "B")
    assert (child.number, D(2026, 1, 1), D(2026, 3, 15)) in live(db, household)
    after = coverage(db, household.number, D(2026, 3, 16))
    assert after["amount_due"] == 0
    assert posting.household_credit(db, mutual.id, household.id) == 0
    member = next(m for m in after["members"] if m["number"] == child.number)
    assert (member["status"], member["from"]) == ("WAITING", "2026-05-14")


# D7: credit applied at once ------------------------------------------------------------------


def test_d7_credit_applies_at_once_when_a_member_leaves(db: Session) -> None:
    """D7: 12 000 held for three members (18 000 due); the import that records one member's
    departure makes it usable: allocated at the import, not at the next daily job."""
    mutual = make_mutual(db)
    rows = [
        *family("H4", "standard", "2025-12-01"),
        {
            "household_number": "H4",
            "member_number": "H4-3",
            "full_name": "Fanta Traore",
            "sex": "F",
            "birth_date": "2012-01-01",
            "relationship": "child",
            "enrolled_on": "2025-12-01",
        },
    ]
    import_members(db, mutual, members_csv(rows), today=D(2025, 12, 1))
    household = household_of(db, "H4")
    pay(db, household, 12000, D(2026, 1, 10), "A")
    assert live(db, household) == []
    rows[2] |= {"status": "removed", "left_on": "2026-01-05"}
    report = import_members(db, mutual, members_csv(rows), today=D(2026, 1, 12))
    assert report.allocations == 2
    assert [(n, day) for n, _, day in live(db, household)] == [
        ("H4-1", D(2026, 1, 12)),
        ("H4-2", D(2026, 1, 12)),
    ]
    assert coverage(db, "H4", D(2026, 1, 13))["from"] == "2026-03-13"


# D7b: date order -----------------------------------------------------------------------------


def test_d7b_a_late_earlier_payment_does_not_spend_money_that_had_not_arrived(db: Session) -> None:
    """D7b: 3 000 dated 06-01 recorded first, then 3 000 dated 01-10. In date order the
    6 000 is complete on 06-01, after the 2026 window: it buys 2027, never 2026."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 3000, D(2026, 6, 1), "LATER")
    pay(db, household, 3000, D(2026, 1, 10), "EARLIER")
    number = household.beneficiaries[0].number
    assert live(db, household) == [(number, D(2027, 1, 1), D(2026, 6, 1))]
    assert coverage(db, number, D(2026, 7, 1))["status"] == "WAITING"


def test_d7b_reorders_later_allocations_and_alerts_when_told_cover_changes(db: Session) -> None:
    """D7b: 2026 was bought on 01-25 with two payments; a third, dated 01-05, arrives last.
    In date order 2026 is complete on 01-20: the 01-25 allocation is reversed (reversing
    entries only) and 2026 re-allocated on 01-20; the member was told "from 03-26", so an
    operator alert names the household. Receiving it again changes nothing."""
    mutual = make_mutual(db, subsidies=[("standard", 50, "ETAT")], levies=[("FGN", 300)])
    household = make_household(db, mutual)
    pay(db, household, 1500, D(2026, 1, 20), "B")
    pay(db, household, 1500, D(2026, 1, 25), "C")
    number = household.beneficiaries[0].number
    assert live(db, household) == [(number, D(2026, 1, 1), D(2026, 1, 25))]
    pay(db, household, 1500, D(2026, 1, 5), "A")
    assert live(db, household) == [(number, D(2026, 1, 1), D(2026, 1, 20))]
    assert posting.household_credit(db, mutual.id, household.id) == 1500
    assert db.scalar(select(func.count()).select_from(AllocationReversal)) == 1
    alert = db.scalars(select(Alert).where(Alert.kind == "coverage_corrected")).one()
    assert household.number in alert.detail and "2026-01-01" in alert.detail
    assert posting.balance(db, mutual.id, "asset:receivable:ETAT") == 3000
    assert posting.balance(db, mutual.id, "liab:levy:FGN") == -180
    assert ledger.audit(db) == []
    pay(db, household, 1500, D(2026, 1, 5), "A")
    assert db.scalar(select(func.count()).select_from(AllocationReversal)) == 1


def test_d7b_a_reorder_that_keeps_cover_raises_no_alert(db: Session) -> None:
    """D7b: 6 000 dated 06-01 bought 2027; 6 000 dated 01-10 arrives later and buys 2026.
    2027 is re-allocated the same day it was: nothing the member was told changes."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 6, 1), "B")
    pay(db, household, 6000, D(2026, 1, 10), "A")
    number = household.beneficiaries[0].number
    assert live(db, household) == [
        (number, D(2026, 1, 1), D(2026, 1, 10)),
        (number, D(2027, 1, 1), D(2026, 6, 1)),
    ]
    assert db.scalars(select(Alert).where(Alert.kind == "coverage_corrected")).first() is None
    assert ledger.audit(db) == []


# Payments far above what the household could owe ---------------------------------------------


def test_a_payment_above_five_years_of_shares_is_held_then_released(db: Session) -> None:
    """One member at 6 000 a year, multiple 5: 40 000 is held (not credit, an alert), the
    money recorded in liab:held_payments; released, it is credited and allocated as of its
    date (five years ahead at most, the rest credit)."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    payment = pay(db, household, 40000, D(2026, 1, 10), "BIG")
    assert payment.held and held_payments(db, mutual.id) == [payment]
    assert posting.household_credit(db, mutual.id, household.id) == 0
    assert posting.balance(db, mutual.id, "liab:held_payments") == -40000
    assert db.scalars(select(Alert).where(Alert.kind == "payment_held")).one()
    assert live(db, household) == []
    pay(db, household, 30000, D(2026, 1, 11), "FIVE-YEARS")  # at the limit: not held
    release_payment(db, payment, by="manager", now=NOW)
    assert not payment.held and payment.released_by == "manager"
    assert posting.balance(db, mutual.id, "liab:held_payments") == 0
    assert len(live(db, household)) == 5
    assert posting.household_credit(db, mutual.id, household.id) == 40000
    with pytest.raises(NotHeld):
        release_payment(db, payment, by="manager", now=NOW)
    assert ledger.audit(db) == []


def test_the_hold_multiple_is_the_mutuals_and_zero_turns_it_off(db: Session) -> None:
    mutual = make_mutual(db)
    mutual.payment_hold_multiple = 0
    household = make_household(db, mutual)
    assert not pay(db, household, 90000, D(2026, 1, 10), "HUGE").held
