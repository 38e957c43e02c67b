"""Coverage (D1-D13): periods, shares, the household book, dues, allocation, eligibility.

- allocation: Money in (D7, D7b): record a payment once, credit the household, then apply its
  credit in payment-date order; payments far above what is owed wait for an operator.
- apply: Applying a household's credit (D3, D4, D5, D7): registration fee, whole periods,
  automatic periods.
- date_order: D7b: allocation in payment-date order, reversing later allocations when needed;
  shares released after a departure or a product change (D7, D23).
- book: A household's contribution book: what the rules of D5-D10 need, loaded in a few queries.
- dues: The amount due (D6) and the renewal amount shown in grace and near a period's end.
- eligibility: Who is covered on a date (D8-D13): beneficiary status from paid periods, spells
  and waiting.
- lookup: Find a household or beneficiary by the number on the card: as typed, then by its
  digits for keypad input only (ussd.md).
- periods: Coverage periods of a product (D1): coverage years from `coverage_start`, or calendar
  months.
- query: `gateway eligibility` and the coverage screens: a number and a date in, D11/D12 out.
- standing: What a member is told (D6b, D11, D12): the household's standing and the amount
  offered.
- wording: The words of a standing (D6b, D11, D12) in a language: one source for every surface.
- samples: The longest standings a member can be told (D6b, D11, D12), for the screen and SMS
  checks.
- reprice: D3, D23: a lower share after a category change gives back the difference on periods
  already prepaid (reversing entries).
- snapshot: Per-household coverage snapshots (issue 19): a coverage screen reads one row,
  whatever the household's history.
- products: A product's configuration, cached per process (issue 19).
- shares: What a household pays and what its funder owes (D3), and levies on earned contributions
  (D4).
"""

from gateway.services.coverage.allocation import (
    NotHeld,
    PaymentConflict,
    held_payments,
    receive_payment,
    release_payment,
)
from gateway.services.coverage.apply import (
    allocate,
    allocate_due,
    households_to_allocate,
)
from gateway.services.coverage.book import (
    HouseholdBook,
    PaidPeriod,
    live_allocation,
    load_book,
)
from gateway.services.coverage.date_order import (
    release_shares,
    reverse_allocations,
    settle,
)
from gateway.services.coverage.dues import (
    amount_due,
    renewal_amount,
    unpaid_due,
)
from gateway.services.coverage.eligibility import (
    HouseholdStatus,
    Spell,
    Status,
    beneficiary_spells,
    beneficiary_status,
    household_status,
)
from gateway.services.coverage.lookup import (
    KINDS,
    AmbiguousNumber,
    find_number,
    mutual_by_code,
)
from gateway.services.coverage.periods import (
    Period,
    next_period,
    period_holding,
    period_label,
    period_starting_on_or_after,
)
from gateway.services.coverage.query import coverage
from gateway.services.coverage.reprice import give_back_difference
from gateway.services.coverage.samples import (
    BIG_AMOUNT,
    LONG_DATE,
    LONG_HOUSEHOLD,
    sample_standings,
)
from gateway.services.coverage.shares import (
    Shares,
    shares_for,
)
from gateway.services.coverage.snapshot import (
    pending_rebuild as refresh_snapshots,
)
from gateway.services.coverage.snapshot import (
    read_book,
    rebuild_all,
)
from gateway.services.coverage.standing import (
    Headline,
    Offer,
    OfferKind,
    Standing,
    campaign_open_for,
    offer,
    standing,
    standing_of,
)
from gateway.services.coverage.wording import (
    headline_text,
    held_text,
    offer_text,
    receipt_status,
    remains,
    status_text,
)

__all__ = [
    "BIG_AMOUNT",
    "KINDS",
    "LONG_DATE",
    "LONG_HOUSEHOLD",
    "AmbiguousNumber",
    "Headline",
    "HouseholdBook",
    "HouseholdStatus",
    "NotHeld",
    "Offer",
    "OfferKind",
    "PaidPeriod",
    "PaymentConflict",
    "Period",
    "Shares",
    "Spell",
    "Standing",
    "Status",
    "allocate",
    "allocate_due",
    "amount_due",
    "beneficiary_spells",
    "beneficiary_status",
    "campaign_open_for",
    "coverage",
    "find_number",
    "give_back_difference",
    "headline_text",
    "held_payments",
    "held_text",
    "household_status",
    "households_to_allocate",
    "live_allocation",
    "load_book",
    "mutual_by_code",
    "next_period",
    "offer",
    "offer_text",
    "period_holding",
    "period_label",
    "period_starting_on_or_after",
    "read_book",
    "rebuild_all",
    "receipt_status",
    "receive_payment",
    "refresh_snapshots",
    "release_payment",
    "release_shares",
    "remains",
    "renewal_amount",
    "reverse_allocations",
    "sample_standings",
    "settle",
    "shares_for",
    "standing",
    "standing_of",
    "status_text",
    "unpaid_due",
]
