"""Funder statements and payments (D3, D25; issue 17 acceptance 2): the claim lists every
live subsidised share of the period; a payment is Dr bank / Cr receivable, partial payments
add up, an overpayment is refused, a reference is recorded once; the receivable's balance is
always the statements minus the payments, and the ledger audit passes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from gateway.services import ledger, reports
from gateway.services.reports import ReportError
from tests.support.reports import PAID_ON, TODAY, build


def test_the_claim_lists_the_subsidised_shares_of_the_period(db: Session) -> None:
    s = build(db)
    state = reports.funder_by_code(db, s.mutual, "ETAT")
    statement = reports.funder_statement(db, state, reports.parse_span("2026"))
    shares = [(c.household, c.beneficiary, c.kind, c.funder_share) for c in statement.lines]
    assert shares == [
        ("1001", "", "registration", 500),
        ("1001", "100101", "contribution", 3000),
        ("1001", "100102", "contribution", 3000),
        ("1002", "", "registration", 1000),
        ("1002", "100201", "contribution", 6000),
    ]
    assert (statement.total, statement.households, statement.beneficiaries) == (13500, 2, 3)
    assert reports.funder_statement(db, state, reports.parse_span("2027")).lines == []
    csv = reports.statement_csv(statement).splitlines()
    assert csv[0].startswith("household,section,category,beneficiary")
    assert (
        csv[2] == "1001,Nord,partial,100101,Membre 100101,contribution,"
        "2026-01-01,2026-12-31,2026-01-10,3000,3000"
    )


def test_payments_settle_the_receivable_and_the_ledger_stays_sound(db: Session) -> None:
    s = build(db)
    state = reports.funder_by_code(db, s.mutual, "ETAT")
    span = reports.parse_span("2026")
    first = reports.pay_funder(
        db, state, span, amount=10000, reference="VIR-1", paid_on=TODAY, by="finance"
    )
    assert first.created and first.statement.outstanding == 3500
    replay = reports.pay_funder(
        db, state, span, amount=10000, reference="VIR-1", paid_on=TODAY, by="finance"
    )
    assert not replay.created and replay.payment.id == first.payment.id
    with pytest.raises(ReportError, match="overpayment refused: ETAT owes 3500 XOF"):
        reports.pay_funder(db, state, span, amount=3501, reference="VIR-2", paid_on=TODAY, by="f")
    with pytest.raises(ReportError, match="was recorded for 10000 XOF"):
        reports.pay_funder(db, state, span, amount=500, reference="VIR-1", paid_on=TODAY, by="f")
    balance, expected = reports.receivable_position(db, state)
    assert balance == expected == 3500
    last = reports.pay_funder(
        db, state, span, amount=3500, reference="VIR-2", paid_on=TODAY, by="f"
    )
    assert last.statement.outstanding == 0 and last.statement.paid == 13500
    assert reports.receivable_position(db, state) == (0, 0)
    assert ledger.balance(db, s.mutual.id, "asset:bank") == 13500
    assert ledger.audit(db) == []


@pytest.mark.parametrize(
    ("amount", "reference", "message"),
    [
        (0, "R", "above 0"),
        (-5, "R", "above 0"),
        (True, "R", "whole number"),
        (10, " ", "reference must have"),
        (10, "x" * 101, "reference must have"),
    ],
)
def test_bad_payments_are_refused(db: Session, amount: int, reference: str, message: str) -> None:
    s = build(db)
    state = reports.funder_by_code(db, s.mutual, "ETAT")
    with pytest.raises(ReportError, match=message):
        reports.pay_funder(
            db,
            state,
            reports.parse_span("2026"),
            amount=amount,
            reference=reference,
            paid_on=PAID_ON,
            by="f",
        )


def test_unknown_funder_and_bad_periods(db: Session) -> None:
    s = build(db)
    with pytest.raises(ReportError, match="unknown funder 'NOPE'"):
        reports.funder_by_code(db, s.mutual, "NOPE")
    for bad in ("26", "2026-13", "2026-1", "x", "", "1800"):
        with pytest.raises(ReportError, match="must be a year"):
            reports.parse_span(bad)
    march = reports.parse_span("2026-02")
    assert (march.first, march.last) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert reports.parse_span("2026-12").last == dt.date(2026, 12, 31)
