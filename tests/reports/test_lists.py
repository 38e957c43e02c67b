"""Golden lists (issue 17, acceptance 3): the defaulters of a section with the amount offered
(D6b) and the phone (full for managers, masked otherwise: D27), and the beneficiaries covered
in a period (D11, D13), compared byte for byte with tests/data/reports/."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gateway.services import reports
from gateway.services.reports import ReportError
from tests.support.paths import DATA
from tests.support.reports import TODAY, build

GOLDEN = DATA / "reports"


def test_defaulters_of_a_campaign_period_match_the_golden_file(db: Session) -> None:
    s = build(db)
    rows = reports.defaulters(db, s.mutual, on=TODAY, span=reports.parse_span("2027"))
    expected = (GOLDEN / "defaulters_2027.csv").read_text(encoding="utf-8")
    assert reports.defaulters_csv(rows, masked=False) == expected
    masked = reports.defaulters_csv(rows, masked=True)
    assert "+22670****03" in masked and "+22670000003" not in masked


def test_defaulters_today_and_per_section(db: Session) -> None:
    """Today only 1003 owes (the others paid 2026 and wait for cover); the indigent household
    is never listed (D3: its periods are paid automatically)."""
    s = build(db)
    today = reports.defaulters(db, s.mutual, on=TODAY)
    assert [(r.household, r.amount_offered, r.for_period) for r in today] == [
        ("1003", 19000, "2027")
    ]
    sud = reports.defaulters(
        db,
        s.mutual,
        on=TODAY,
        section=reports.section_named(db, s.mutual, "Sud"),
        span=reports.parse_span("2027"),
    )
    assert [r.household for r in sud] == ["1004"]
    with pytest.raises(ReportError, match="unknown section 'Est'"):
        reports.section_named(db, s.mutual, "Est")


def test_covered_list_matches_the_golden_file(db: Session) -> None:
    s = build(db)
    rows = reports.covered(db, s.mutual, span=reports.parse_span("2026-04"))
    expected = (GOLDEN / "covered_2026-04.csv").read_text(encoding="utf-8")
    assert reports.covered_csv(rows) == expected
    nord = reports.covered(
        db,
        s.mutual,
        span=reports.parse_span("2026-04"),
        section=reports.section_named(db, s.mutual, "Nord"),
    )
    assert [r.beneficiary for r in nord] == ["100101", "100102", "100201"]


def test_nobody_is_covered_while_waiting(db: Session) -> None:
    """D9: paid on 10/01 with 60 days of waiting: covered from 11/03, not on 02/03."""
    s = build(db)
    assert reports.covered(db, s.mutual, span=reports.day_span(TODAY)) == []
