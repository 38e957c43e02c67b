"""The longest standings a member can be told (D6b, D11, D12): what the USSD validator fills
screens with and what every SMS template is checked with, at `mutual load` too (issue 15)."""

from __future__ import annotations

import datetime as dt

from gateway.services.coverage.eligibility import HouseholdStatus
from gateway.services.coverage.periods import Period
from gateway.services.coverage.standing import Headline, Offer, OfferKind, Standing

BIG_AMOUNT = 9_999_999  # FCFA
LONG_DATE = dt.date(2026, 12, 31)
LONG_HOUSEHOLD = "H-2026-123456"


def sample_standings() -> list[Standing]:
    """Every headline with the longest dates and the longest offer (a two-year period, the
    largest amount, the registration fee included where it can be: a household never paid),
    renewals partly paid."""
    day = LONG_DATE
    period = Period(dt.date(day.year, 2, 1), dt.date(day.year + 1, 1, 31))
    empty = HouseholdStatus(LONG_HOUSEHOLD, False, 0, 0, None, None)
    found = []
    for headline in Headline:
        kind = OfferKind.DUE if headline == Headline.NOT_PAID else OfferKind.RENEWAL
        big = Offer(kind, BIG_AMOUNT, period, registration=headline == Headline.NOT_PAID)
        found.append(Standing(headline, day, day, big, empty, credit=1))
    return found
