"""D6b: the amount offered (USSD option 2, reminders, SOLDE) and the period it buys; D11/D12:
the headline a member reads keeps "paid" and "covered" apart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.models import Campaign, Household, Mutual
from gateway.services.coverage import (
    Headline,
    OfferKind,
    Period,
    period_label,
    standing_of,
)
from tests.support.coverage import pay
from tests.support.factories import make_household, make_mutual

D = dt.date


def campaign(db: Session, mutual: Mutual, opens: dt.date, closes: dt.date, **kw: object) -> None:
    db.add(
        Campaign(
            mutual_id=mutual.id,
            product_id=mutual.products[0].id,
            code="RECOLTE",
            name="Recolte",
            opens_on=opens,
            closes_on=closes,
            for_period=D(2027, 1, 1),
            **kw,
        )
    )
    db.flush()


def paid_for_2026(db: Session, **product: int) -> tuple[Mutual, Household]:
    mutual = make_mutual(db, "MUT", **product)
    household = make_household(db, mutual, members=2)
    pay(db, household, 12000, D(2026, 1, 10))
    return mutual, household


def test_d6b_the_amount_due_comes_first_and_names_its_period(db: Session) -> None:
    mutual = make_mutual(db, registration_fee=1000)
    household = make_household(db, mutual, members=2)
    found = standing_of(db, household, D(2026, 1, 5))
    assert found.headline == Headline.NOT_PAID
    assert (found.offer.kind, found.offer.amount) == (OfferKind.DUE, 13000)
    assert found.offer.registration and found.offer.period == Period(D(2026, 1, 1), D(2026, 12, 31))
    # After the join window the money buys next year (D5): the offer says so.
    later = standing_of(db, household, D(2026, 3, 1))
    assert later.offer.period is not None and later.offer.period.start == D(2027, 1, 1)


def test_d6b_nothing_offered_mid_year_to_a_paid_household(db: Session) -> None:
    _, household = paid_for_2026(db)
    found = standing_of(db, household, D(2026, 6, 1))
    assert found.headline == Headline.COVERED and found.until == D(2026, 12, 31)
    assert (found.offer.kind, found.offer.amount) == (OfferKind.NONE, 0)


def test_d6b_renewal_within_renewal_notice_days(db: Session) -> None:
    _, household = paid_for_2026(db, renewal_notice_days=45)
    assert standing_of(db, household, D(2026, 11, 16)).offer.kind == OfferKind.NONE  # 45 days
    found = standing_of(db, household, D(2026, 11, 17))  # 44 days before the year ends
    assert (found.offer.kind, found.offer.amount) == (OfferKind.RENEWAL, 12000)
    assert found.offer.period is not None and period_label(found.offer.period) == "2027"
    assert found.headline == Headline.COVERED  # still covered: the renewal is an offer


def test_d6b_renewal_while_a_campaign_for_next_year_is_open(db: Session) -> None:
    mutual, household = paid_for_2026(db, renewal_notice_days=0)
    campaign(db, mutual, D(2026, 10, 1), D(2027, 1, 31))
    assert standing_of(db, household, D(2026, 9, 30)).offer.kind == OfferKind.NONE
    found = standing_of(db, household, D(2026, 10, 1))
    assert (found.offer.kind, found.offer.amount) == (OfferKind.RENEWAL, 12000)


def test_d6b_a_campaign_of_other_sections_offers_nothing(db: Session) -> None:
    mutual, household = paid_for_2026(db, renewal_notice_days=0)
    campaign(db, mutual, D(2026, 10, 1), D(2027, 1, 31), sections=["Reo"])
    assert standing_of(db, household, D(2026, 10, 1)).offer.kind == OfferKind.NONE


def test_d6b_paying_the_renewal_buys_next_year(db: Session) -> None:
    """D7: money paid when the renewal is offered is allocated to the period offered."""
    mutual, household = paid_for_2026(db, renewal_notice_days=0)
    campaign(db, mutual, D(2026, 10, 1), D(2027, 1, 31))
    pay(db, household, 12000, D(2026, 10, 2))
    found = standing_of(db, household, D(2026, 10, 3))
    assert found.headline == Headline.COVERED and found.until == D(2027, 12, 31)
    assert found.offer.kind == OfferKind.NONE


def test_d6b_grace_offers_the_renewal_and_says_grace(db: Session) -> None:
    _, household = paid_for_2026(db)
    found = standing_of(db, household, D(2027, 1, 15))
    assert found.headline == Headline.GRACE and found.until == D(2027, 1, 30)
    assert found.offer.amount == 12000 and found.offer.period == Period(
        D(2027, 1, 1), D(2027, 12, 31)
    )


def test_d11_d12_paid_for_a_future_period_reads_paid_covered_from(db: Session) -> None:
    """D11: a lapsed member paying after the join window waits for next year: WAITING with
    `from`, never "not covered" with nothing to pay."""
    mutual = make_mutual(db)
    household = make_household(db, mutual)
    pay(db, household, 6000, D(2026, 1, 10))
    pay(db, household, 6000, D(2027, 3, 2))
    found = standing_of(db, household, D(2027, 3, 3))
    assert (found.headline, found.from_) == (Headline.WAITING, D(2028, 3, 1))
    assert found.offer.kind == OfferKind.NONE


def test_period_labels() -> None:
    assert period_label(Period(D(2027, 1, 1), D(2027, 12, 31))) == "2027"
    assert period_label(Period(D(2026, 10, 1), D(2027, 9, 30))) == "2026-2027"
    assert period_label(Period(D(2027, 3, 1), D(2027, 3, 31))) == "03/2027"
