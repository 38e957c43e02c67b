"""Eligibility (D5-D13) through the real path: payments -> allocation (D7) -> status (D11)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import Household
from gateway.services.coverage import allocate_due
from gateway.services.coverage.query import coverage
from gateway.services.ledger import posting
from tests.support.coverage import pay
from tests.support.factories import add_beneficiary, make_household, make_mutual

D = dt.date


def check(db: Session, number: str, day: dt.date) -> dict[str, Any]:
    return coverage(db, number, day)


def head(household: Household) -> str:
    return household.beneficiaries[0].number


def test_d11_worked_example_first_payment_waits_then_covered_then_grace(db: Session) -> None:
    """D11 example: paid 2026-01-10 -> WAITING to 03-10, COVERED 03-11..12-31, GRACE to
    2027-01-30, then NOT_COVERED."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    number = head(household)
    assert check(db, number, D(2026, 1, 10))["status"] == "WAITING"
    waiting = check(db, number, D(2026, 3, 10))
    assert (waiting["status"], waiting["from"]) == ("WAITING", "2026-03-11")
    covered = check(db, number, D(2026, 3, 11))
    assert (covered["status"], covered["until"]) == ("COVERED", "2026-12-31")
    assert check(db, number, D(2026, 12, 31))["status"] == "COVERED"
    grace = check(db, number, D(2027, 1, 1))
    assert (grace["status"], grace["until"]) == ("GRACE", "2027-01-30")
    assert grace["renewal_amount"] == 6000
    assert check(db, number, D(2027, 1, 30))["status"] == "GRACE"
    lapsed = check(db, number, D(2027, 1, 31))
    assert lapsed["status"] == "NOT_COVERED"
    assert lapsed["amount_due"] == 6000


def test_d11_renewal_inside_grace_continues_without_waiting(db: Session) -> None:
    """D10/D11: renewed on 2027-01-20 -> COVERED through 2027, no new waiting."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    pay(db, household, 6000, D(2027, 1, 20))
    for day in (D(2027, 1, 20), D(2027, 1, 25), D(2027, 2, 1)):
        result = check(db, head(household), day)
        assert (result["status"], result["until"]) == ("COVERED", "2027-12-31"), day


def test_d5_payment_after_join_window_buys_next_period(db: Session) -> None:
    """D11: renewed on 2027-03-01 -> that money buys 2028 (2027 window closed on 01-31)."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    pay(db, household, 6000, D(2027, 3, 1))
    number = head(household)
    on_payment_day = check(db, number, D(2027, 3, 1))
    # D11: paid for a future period only -> WAITING, from that period's first covered day
    # (the lapse exceeded grace: a new spell, with a new waiting period from 2028-01-01).
    assert (on_payment_day["status"], on_payment_day["from"]) == ("WAITING", "2028-03-01")
    assert on_payment_day["amount_due"] == 0  # D6: paid for the open period (2028)
    # The lapse exceeded grace: a new spell, with a new waiting period from 2028-01-01.
    new_year = check(db, number, D(2028, 1, 15))
    assert (new_year["status"], new_year["from"]) == ("WAITING", "2028-03-01")
    assert check(db, number, D(2028, 3, 1))["status"] == "COVERED"


def test_d9_lapse_beyond_grace_with_long_join_window_waits_again(db: Session) -> None:
    """D9: join window 90 lets 2027-03-01 buy 2027, but the 60-day gap > grace 30 starts a new
    spell: waiting again from the new effective date."""
    mutual = make_mutual(db, join_window_days=90)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    pay(db, household, 6000, D(2027, 3, 1))
    waiting = check(db, head(household), D(2027, 3, 15))
    assert (waiting["status"], waiting["from"]) == ("WAITING", "2027-04-30")
    covered = check(db, head(household), D(2027, 4, 30))
    assert (covered["status"], covered["until"]) == ("COVERED", "2027-12-31")
    # Grace of the old spell still holds in January.
    assert check(db, head(household), D(2027, 1, 20))["status"] == "GRACE"


def test_renewal_before_the_period_starts_has_no_waiting(db: Session) -> None:
    """D5/D9: paid in December for next year -> effective 01-01, same spell, no waiting."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    pay(db, household, 6000, D(2026, 12, 15))
    for day in (D(2026, 12, 20), D(2027, 1, 1), D(2027, 6, 1)):
        result = check(db, head(household), day)
        assert (result["status"], result["until"]) == ("COVERED", "2027-12-31"), day
    assert check(db, household.number, D(2026, 12, 20))["renewal_amount"] == 0


def test_beneficiary_added_mid_period_owes_current_period_and_waits(db: Session) -> None:
    """D5: a dependant enrolled after the window into a paid household opens the current
    period; D6 asks for their share; once paid they wait (D9) while the others stay covered."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    child = add_beneficiary(db, household, enrolled_on=D(2026, 6, 1))
    before = check(db, household.number, D(2026, 6, 2))
    assert (before["status"], before["amount_due"]) == ("NOT_UP_TO_DATE", 6000)
    assert before["members"][1] == {
        "number": child.number,
        "status": "NOT_COVERED",
        "until": None,
        "from": None,
    }
    pay(db, household, 6000, D(2026, 6, 5))
    after = check(db, household.number, D(2026, 7, 1))
    assert (after["status"], after["amount_due"], after["from"]) == (
        "NOT_UP_TO_DATE",
        0,
        "2026-08-04",
    )
    assert check(db, child.number, D(2026, 8, 4))["until"] == "2026-12-31"
    assert check(db, household.number, D(2026, 8, 4))["status"] == "UP_TO_DATE"


def test_removed_beneficiary_is_removed_and_owes_nothing(db: Session) -> None:
    """D6/D7/D11: removed before the date -> REMOVED, outside the household status and dues."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    gone = add_beneficiary(
        db, household, enrolled_on=D(2025, 12, 1), status="removed", left_on=D(2026, 5, 1)
    )
    assert check(db, household.number, D(2026, 1, 5))["amount_due"] == 12000
    pay(db, household, 12000, D(2026, 1, 5))
    assert check(db, gone.number, D(2026, 6, 1))["status"] == "REMOVED"
    summary = check(db, household.number, D(2026, 6, 1))
    assert summary["status"] == "UP_TO_DATE"
    assert check(db, household.number, D(2027, 1, 5))["amount_due"] == 6000


def test_subsidised_household_pays_member_share_and_funder_owes_rest(db: Session) -> None:
    """D3: member pays ceil(6000 x 50%) = 3000; the funder's 3000 is a receivable; D4 levy 3%."""
    mutual = make_mutual(db, subsidies=[("subsidised", 50, "ETAT")], levies=[("FGN", 300)])
    household = make_household(db, mutual, members=2, category="subsidised")
    assert check(db, household.number, D(2026, 1, 5))["amount_due"] == 6000
    pay(db, household, 6000, D(2026, 1, 5))
    result = check(db, household.number, D(2026, 3, 10))
    assert (result["status"], result["amount_due"]) == ("UP_TO_DATE", 0)
    assert posting.balance(db, mutual.id, "asset:receivable:ETAT") == 6000
    assert posting.balance(db, mutual.id, "income:contributions") == -(12000 - 360)
    assert posting.balance(db, mutual.id, "liab:levy:FGN") == -360


def test_indigent_household_owes_nothing_and_is_covered_automatically(db: Session) -> None:
    """D3: share 0 -> nothing due; paid automatically from the first open period, allocated
    on the period's first day, so waiting runs from 2026-01-01."""
    mutual = make_mutual(db, subsidies=[("indigent", 0, "MASSN")])
    household = make_household(db, mutual, members=3, category="indigent")
    before = check(db, household.number, D(2026, 1, 2))
    assert (before["amount_due"], before["status"], before["from"]) == (
        0,
        "NOT_UP_TO_DATE",
        "2026-03-02",
    )
    assert check(db, household.number, D(2026, 3, 2))["status"] == "UP_TO_DATE"
    assert allocate_due(db, on=D(2026, 1, 2)) == 3
    assert allocate_due(db, on=D(2026, 1, 2)) == 0
    assert posting.balance(db, mutual.id, "asset:receivable:MASSN") == 18000
    assert check(db, household.number, D(2027, 2, 1))["status"] == "UP_TO_DATE"


def test_partial_payments_accumulate_as_credit_until_a_period_is_covered(db: Session) -> None:
    """D7: a period's shares are never partly allocated; credit waits for the rest."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, members=2)
    pay(db, household, 5000, D(2026, 1, 5))
    partial = check(db, household.number, D(2026, 1, 6))
    assert (partial["status"], partial["amount_due"]) == ("NOT_UP_TO_DATE", 7000)
    assert all(m["status"] == "NOT_COVERED" for m in partial["members"])
    assert posting.household_credit(db, mutual.id, household.id) == 5000
    pay(db, household, 7000, D(2026, 1, 12))
    paid = check(db, household.number, D(2026, 1, 13))
    assert (paid["amount_due"], paid["from"]) == (0, "2026-03-13")
    assert posting.household_credit(db, mutual.id, household.id) == 0


def test_one_payment_covering_two_periods(db: Session) -> None:
    """D7: period by period while the money lasts; one spell through 2027."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 12000, D(2026, 1, 10))
    for day in (D(2026, 6, 1), D(2027, 6, 1)):
        result = check(db, head(household), day)
        assert (result["status"], result["until"]) == ("COVERED", "2027-12-31")
    assert check(db, head(household), D(2028, 1, 10))["status"] == "GRACE"


def test_monthly_product_six_months_prepaid(db: Session) -> None:
    """D1/D11: months are calendar months; six months prepaid covers to the end of June."""
    mutual = make_mutual(
        db, period="month", contribution=500, waiting_days=30, grace_days=10, join_window_days=10
    )
    household = make_household(db, mutual)
    pay(db, household, 3000, D(2026, 1, 5))
    assert check(db, head(household), D(2026, 2, 3))["from"] == "2026-02-04"
    covered = check(db, head(household), D(2026, 2, 10))
    assert (covered["status"], covered["until"]) == ("COVERED", "2026-06-30")
    grace = check(db, head(household), D(2026, 7, 5))
    assert (grace["status"], grace["until"]) == ("GRACE", "2026-07-10")
    # 2026-07-15 is past the July window (10 days): the open period is August.
    lapsed = check(db, head(household), D(2026, 7, 15))
    assert (lapsed["status"], lapsed["amount_due"]) == ("NOT_COVERED", 500)


def test_unknown_number(db: Session) -> None:
    """D11: UNKNOWN when no such member number exists."""
    make_mutual(db)
    result = check(db, "999999", D(2026, 1, 1))
    assert (result["status"], result["members"]) == ("UNKNOWN", [])


def test_registration_fee_is_paid_first(db: Session) -> None:
    """D6/D7: the registration fee (droit d'adhésion) comes before any period."""
    mutual = make_mutual(db, registration_fee=1000)
    household = make_household(db, mutual)
    assert check(db, household.number, D(2026, 1, 5))["amount_due"] == 7000
    pay(db, household, 6500, D(2026, 1, 5))
    partial = check(db, household.number, D(2026, 1, 6))
    assert (partial["status"], partial["amount_due"]) == ("NOT_UP_TO_DATE", 500)
    assert posting.balance(db, mutual.id, "income:registration_fees") == -1000
    pay(db, household, 500, D(2026, 1, 7))
    assert check(db, household.number, D(2026, 1, 8))["amount_due"] == 0


def test_newborn_of_covered_mother_has_no_waiting_when_product_says_so(db: Session) -> None:
    """D9: newborn_waiting = false and the mother covered -> no waiting for the child."""
    mutual = make_mutual(db, newborn_waiting=False)
    household = make_household(db, mutual)
    mother = add_beneficiary(db, household, enrolled_on=D(2025, 12, 1), relation="spouse")
    pay(db, household, 12000, D(2026, 1, 5))
    assert check(db, mother.number, D(2026, 4, 1))["status"] == "COVERED"
    baby = add_beneficiary(
        db, household, enrolled_on=D(2026, 4, 15), relation="child", birth_date=D(2026, 4, 1)
    )
    pay(db, household, 6000, D(2026, 4, 16))
    result = check(db, baby.number, D(2026, 4, 16))
    assert (result["status"], result["until"]) == ("COVERED", "2026-12-31")
