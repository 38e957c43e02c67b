"""Reports (D25, issue 17): funder and levy statements with the payments recorded against
them, lists for the field, member cards.

- errors: ReportError, why a report or a payment is refused.
- spans: a statement's period as typed (`2026`, `2026-03`).
- csvfiles: CSV written the same way by every report (byte-stable).
- funders: the funder's claim per period, its payments (Dr bank / Cr receivable).
- levies: a levy's statement per period, its remittances (Dr levy / Cr bank).
- lists: defaulters per section with the amount offered (D6b); covered beneficiaries per
  section and period (D11, D13).
- cards: member cards as a PDF, a sheet per household.
"""

from gateway.services.reports.cards import Card, cards_pdf, household_cards, section_sheets
from gateway.services.reports.errors import ReportError
from gateway.services.reports.funders import (
    ClaimLine,
    FunderStatement,
    Recorded,
    funder_by_code,
    funder_statement,
    pay_funder,
    receivable_position,
    statement_csv,
)
from gateway.services.reports.levies import (
    LevyLine,
    LevyStatement,
    Remitted,
    levy_csv,
    levy_named,
    levy_names,
    levy_statement,
    remit_levy,
)
from gateway.services.reports.lists import (
    CoveredRow,
    Defaulter,
    covered,
    covered_csv,
    defaulters,
    defaulters_csv,
    facility_catchment,
    section_named,
)
from gateway.services.reports.spans import Span, day_span, parse_span

__all__ = [
    "Card",
    "ClaimLine",
    "CoveredRow",
    "Defaulter",
    "FunderStatement",
    "LevyLine",
    "LevyStatement",
    "Recorded",
    "Remitted",
    "ReportError",
    "Span",
    "cards_pdf",
    "covered",
    "covered_csv",
    "day_span",
    "defaulters",
    "defaulters_csv",
    "facility_catchment",
    "funder_by_code",
    "funder_statement",
    "household_cards",
    "levy_csv",
    "levy_named",
    "levy_names",
    "levy_statement",
    "parse_span",
    "pay_funder",
    "receivable_position",
    "remit_levy",
    "section_named",
    "section_sheets",
    "statement_csv",
]
