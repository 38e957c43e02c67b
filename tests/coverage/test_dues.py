"""D6 for a book with no paid period (issue 19): amount_due and renewal_amount take a short
way (every active beneficiary's share, the registration share, minus credit) that must give
what their share-by-share loops give, whatever the members, dates, product and credit."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import cast

from hypothesis import given
from hypothesis import strategies as st

from gateway.models import Beneficiary, Household, Product
from gateway.services.coverage import dues
from gateway.services.coverage.book import HouseholdBook
from gateway.services.coverage.periods import Period
from gateway.services.coverage.shares import Shares

START = dt.date(2025, 1, 1)
offsets = st.integers(min_value=0, max_value=3 * 365)


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


@st.composite
def members(draw: st.DrawFn) -> list[Beneficiary]:
    found = []
    for n in range(draw(st.integers(0, 5))):
        status = draw(st.sampled_from(["active", "removed", "deceased", "suspended"]))
        left = draw(st.none() | offsets)
        found.append(
            Beneficiary(
                id=n + 1,
                enrolled_on=day(draw(offsets)),
                status=status,
                left_on=None if left is None else day(left),
            )
        )
    return found


@st.composite
def unpaid_books(draw: st.DrawFn) -> HouseholdBook:
    product = SimpleNamespace(
        id=1,
        period=draw(st.sampled_from(["year", "month"])),
        coverage_start=draw(st.sampled_from(["01-01", "07-01", "02-29"])),
        join_window_days=draw(st.integers(0, 90)),
    )
    shares = Shares(
        member_share_pct=draw(st.sampled_from([50, 100])),
        funder_code=None,
        contribution_member=draw(st.integers(1, 10_000)),
        contribution_funder=0,
        registration_member=draw(st.integers(0, 2_000)),
        registration_funder=0,
    )
    household = SimpleNamespace(id=1, category_since=None)
    book = HouseholdBook(
        cast(Household, household), cast(Product, product), shares, draw(members())
    )
    book.registration_paid = draw(st.booleans())
    book.credit = draw(st.integers(0, 30_000))
    for ben in book.beneficiaries:  # an earlier membership spell (D23) for some
        if draw(st.booleans()):
            start = day(draw(offsets))
            book.earlier[ben.id] = [Period(start, start + dt.timedelta(days=draw(offsets)))]
    return book


@given(book=unpaid_books(), on=offsets)
def test_a_book_with_no_paid_period_owes_what_the_loops_say(book: HouseholdBook, on: int) -> None:
    assert not book.paid
    today = day(on)
    assert dues.amount_due(book, today) == dues.shares_due(book, today)
    assert dues.renewal_amount(book, today) == dues.renewal_shares(book, today)
