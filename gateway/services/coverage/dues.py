"""The amount due (D6) and the renewal amount shown in grace and near a period's end."""

from __future__ import annotations

import datetime as dt

from gateway.services.coverage.book import HouseholdBook
from gateway.services.coverage.periods import next_period, period_holding
from gateway.services.coverage.shares import Shares


def registration_due(book: HouseholdBook) -> int:
    return 0 if book.registration_paid else book.shares.registration_member


def amount_due(book: HouseholdBook, on: dt.date) -> int:
    """D6: unpaid registration share, plus the open-period share of every active beneficiary
    paid neither for the period holding the date nor for their open period, minus credit."""
    if book.shares.fully_subsidised:
        return 0
    return unpaid_book_due(book, on) if not book.paid else shares_due(book, on)


def shares_due(book: HouseholdBook, on: dt.date) -> int:
    """amount_due share by share (what it reads when some period is paid)."""
    current = period_holding(book.product, on)
    owed = registration_due(book)
    for beneficiary in book.active(on):
        if book.is_paid(beneficiary, current):
            continue
        if not book.is_paid(beneficiary, book.open_period(beneficiary, on)):
            owed += book.shares.contribution_member
    return max(0, owed - book.credit)


def renewal_amount(book: HouseholdBook, on: dt.date) -> int:
    """D6: the shares of the next period not yet paid (the current one for whoever is not
    paid for it), minus credit."""
    if book.shares.fully_subsidised:
        return 0
    return unpaid_book_due(book, on) if not book.paid else renewal_shares(book, on)


def renewal_shares(book: HouseholdBook, on: dt.date) -> int:
    """renewal_amount share by share (what it reads when some period is paid)."""
    current = period_holding(book.product, on)
    following = next_period(book.product, current)
    owed = registration_due(book)
    for beneficiary in book.active(on):
        target = (
            following if book.is_paid(beneficiary, current) else book.open_period(beneficiary, on)
        )
        if not book.is_paid(beneficiary, target):
            owed += book.shares.contribution_member
    return max(0, owed - book.credit)


def unpaid_book_due(book: HouseholdBook, on: dt.date) -> int:
    """Both amounts of a book with no paid period, which the loops above reach share by
    share (no period of any beneficiary is paid): every active beneficiary's share, plus the
    registration share, minus credit. A reminders run judges a million such households at a
    campaign's opening (issue 19); tests/coverage/test_dues.py holds it to the loops."""
    return unpaid_due(book.shares, len(book.active(on)), book.credit, book.registration_paid)


def unpaid_due(shares: Shares, active: int, credit: int, registration_paid: bool = False) -> int:
    """unpaid_book_due from counts: `active` beneficiaries active that day, the credit."""
    owed = 0 if registration_paid else shares.registration_member
    return max(0, owed + shares.contribution_member * active - credit)
