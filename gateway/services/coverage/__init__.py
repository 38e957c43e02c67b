"""Coverage (D1-D13): periods, shares, the household book, dues, allocation, eligibility.

- allocation: Money in and its allocation (D3, D4, D7): credit the household, then pay the
  registration
- book: A household's contribution book: what the rules of D5-D10 need, loaded in a few queries.
- dues: The amount due (D6) and the renewal amount shown in grace and near a period's end.
- eligibility: Who is covered on a date (D8-D13): beneficiary status from paid periods, spells
  and waiting.
- lookup: Find a household or beneficiary by the number on the card, as typed or as digits only.
- periods: Coverage periods of a product (D1): coverage years from `coverage_start`, or calendar
  months.
- query: `gateway eligibility` and the coverage screens: a number and a date in, D11/D12 out.
- shares: What a household pays and what its funder owes (D3), and levies on earned contributions
  (D4).
"""

from gateway.services.coverage.allocation import (
    PaymentConflict,
    allocate,
    allocate_due,
    receive_payment,
)
from gateway.services.coverage.book import (
    HouseholdBook,
    PaidPeriod,
    load_book,
)
from gateway.services.coverage.dues import (
    amount_due,
    renewal_amount,
)
from gateway.services.coverage.eligibility import (
    Spell,
    Status,
    beneficiary_spells,
    beneficiary_status,
    household_status,
)
from gateway.services.coverage.lookup import (
    AmbiguousNumber,
    find_number,
    mutual_by_code,
)
from gateway.services.coverage.periods import (
    Period,
    period_holding,
    period_starting_on_or_after,
)
from gateway.services.coverage.query import coverage
from gateway.services.coverage.shares import (
    Shares,
    shares_for,
)

__all__ = [
    "AmbiguousNumber",
    "HouseholdBook",
    "PaidPeriod",
    "PaymentConflict",
    "Period",
    "Shares",
    "Spell",
    "Status",
    "allocate",
    "allocate_due",
    "amount_due",
    "beneficiary_spells",
    "beneficiary_status",
    "coverage",
    "find_number",
    "household_status",
    "load_book",
    "mutual_by_code",
    "period_holding",
    "period_starting_on_or_after",
    "receive_payment",
    "renewal_amount",
    "shares_for",
]
