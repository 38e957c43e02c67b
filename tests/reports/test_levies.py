"""Levy statements and remittances (D4, D25): the levy each live allocation moved to the
fund for the period, remitted Dr levy / Cr bank, never above what is owed, once per
reference; the levy account's balance is what remains owed."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from gateway.services import ledger, reports
from gateway.services.reports import ReportError
from tests.support.reports import TODAY, build


def test_levy_statement_and_remittance(db: Session) -> None:
    s = build(db)
    assert reports.levy_names(db, s.mutual) == ["FGN"]
    span = reports.parse_span("2026")
    statement = reports.levy_statement(db, s.mutual, "FGN", span)
    lines = [(x.household, x.shares, x.earned, x.levy) for x in statement.lines]
    assert lines == [("1001", 2, 12000, 360), ("1002", 1, 6000, 180), ("1004", 1, 6000, 180)]
    assert statement.total == 720
    assert reports.levy_csv(statement).splitlines()[1] == "1001,2026-01-01,2026-12-31,2,12000,360"
    done = reports.remit_levy(
        db, s.mutual, "FGN", span, amount=700, reference="FGN-1", paid_on=TODAY, by="f"
    )
    assert done.created and done.statement.outstanding == 20
    again = reports.remit_levy(
        db, s.mutual, "FGN", span, amount=700, reference="FGN-1", paid_on=TODAY, by="f"
    )
    assert not again.created
    with pytest.raises(ReportError, match="over-remittance refused: levy FGN owes 20 XOF"):
        reports.remit_levy(
            db, s.mutual, "FGN", span, amount=21, reference="FGN-2", paid_on=TODAY, by="f"
        )
    with pytest.raises(ReportError, match="recorded for 700 XOF"):
        reports.remit_levy(
            db, s.mutual, "FGN", span, amount=5, reference="FGN-1", paid_on=TODAY, by="f"
        )
    assert -ledger.balance(db, s.mutual.id, "liab:levy:FGN") == 20
    assert ledger.balance(db, s.mutual.id, "asset:bank") == -700
    assert ledger.audit(db) == []
    with pytest.raises(ReportError, match="unknown levy 'X'"):
        reports.levy_named(db, s.mutual, "X")
