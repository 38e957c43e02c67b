"""Funder statements and payments (D3, D25): what a funder owes for a period, line by line
(households, beneficiaries, shares): the claim the mutual sends; and the funder's payments
recorded against it (Dr bank / Cr receivable), partial payments allowed, never more than the
statement still owes.

A line is a live allocation (not reversed, D7b) whose ledger transaction debited this
funder's receivable: the funder is read from the ledger, so a household that changed category
later still claims from the funder that owed the share when it was allocated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    Allocation,
    Beneficiary,
    CoveragePeriod,
    Funder,
    FunderPayment,
    Household,
    LedgerEntry,
    LedgerTransaction,
    Mutual,
    Section,
)
from gateway.services import ledger
from gateway.services.coverage import live_allocation
from gateway.services.reports.csvfiles import csv_text
from gateway.services.reports.errors import ReportError
from gateway.services.reports.spans import Span

MAX_REFERENCE = 100
HEADER = (
    "household",
    "section",
    "category",
    "beneficiary",
    "name",
    "kind",
    "period_start",
    "period_end",
    "allocated_on",
    "member_share",
    "funder_share",
)


@dataclass(frozen=True)
class ClaimLine:
    household: str
    section: str
    category: str
    beneficiary: str  # "" for a registration fee
    name: str
    kind: str  # contribution | registration
    period_start: dt.date | None
    period_end: dt.date | None
    allocated_on: dt.date
    member_share: int
    funder_share: int


@dataclass(frozen=True)
class FunderStatement:
    mutual: Mutual
    funder: Funder
    span: Span
    lines: list[ClaimLine]
    payments: list[FunderPayment]

    @property
    def total(self) -> int:
        return sum(line.funder_share for line in self.lines)

    @property
    def paid(self) -> int:
        return sum(p.amount for p in self.payments)

    @property
    def outstanding(self) -> int:
        return self.total - self.paid

    @property
    def households(self) -> int:
        return len({line.household for line in self.lines})

    @property
    def beneficiaries(self) -> int:
        return len({line.beneficiary for line in self.lines if line.beneficiary})


def funder_by_code(session: Session, mutual: Mutual, code: str) -> Funder:
    found = session.scalars(
        select(Funder).where(Funder.mutual_id == mutual.id, Funder.code == code)
    ).one_or_none()
    if found is None:
        raise ReportError(f"unknown funder {code!r} in mutual {mutual.code}")
    return found


def funder_statement(session: Session, funder: Funder, span: Span) -> FunderStatement:
    """D25: the funder's shares allocated for the span's periods, and what it paid for them."""
    receivable = ledger.accounts.receivable(funder.code)
    in_span = or_(
        and_(
            Allocation.kind == "contribution",
            CoveragePeriod.starts_on.between(span.first, span.last),
        ),
        and_(
            Allocation.kind == "registration",
            Allocation.allocated_on.between(span.first, span.last),
        ),
    )
    query = (
        select(
            Allocation,
            Household.number,
            Household.category,
            Section.name,
            Beneficiary.number,
            Beneficiary.full_name,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
        )
        .join(Household, Household.id == Allocation.household_id)
        .outerjoin(Section, Section.id == Household.section_id)
        .outerjoin(Beneficiary, Beneficiary.id == Allocation.beneficiary_id)
        .outerjoin(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .join(
            LedgerTransaction,
            and_(
                LedgerTransaction.mutual_id == Allocation.mutual_id,
                LedgerTransaction.idempotency_key == Allocation.ledger_key,
            ),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, and_(Account.id == LedgerEntry.account_id, Account.name == receivable))
        .where(
            Allocation.mutual_id == funder.mutual_id,
            Allocation.funder_amount > 0,
            live_allocation(),
            in_span,
        )
    )
    lines = [
        ClaimLine(
            household=number,
            section=section or "",
            category=category,
            beneficiary=b_number or "",
            name=b_name or "",
            kind=row.kind,
            period_start=start,
            period_end=end,
            allocated_on=row.allocated_on,
            member_share=row.member_amount,
            funder_share=row.funder_amount,
        )
        for row, number, category, section, b_number, b_name, start, end in session.execute(query)
    ]
    lines.sort(key=lambda c: (c.household, c.kind != "registration", c.beneficiary, _day(c)))
    return FunderStatement(
        funder.mutual, funder, span, lines, payments_of(session, funder, span.label)
    )


def _day(line: ClaimLine) -> dt.date:
    return line.period_start or line.allocated_on


def payments_of(session: Session, funder: Funder, period: str) -> list[FunderPayment]:
    query = select(FunderPayment).where(
        FunderPayment.funder_id == funder.id, FunderPayment.period == period
    )
    return list(session.scalars(query.order_by(FunderPayment.paid_on, FunderPayment.id)))


def statement_csv(statement: FunderStatement) -> str:
    """The claim file: one line per share, in a stable order."""
    rows = (
        (
            c.household,
            c.section,
            c.category,
            c.beneficiary,
            c.name,
            c.kind,
            c.period_start,
            c.period_end,
            c.allocated_on,
            c.member_share,
            c.funder_share,
        )
        for c in statement.lines
    )
    return csv_text(HEADER, rows)


@dataclass(frozen=True)
class Recorded:
    payment: FunderPayment
    created: bool  # False: the same reference was recorded before (a replay)
    statement: FunderStatement


def check_payment(amount: object, reference: str) -> str:
    """Whole XOF above zero (D2) and a reference of 1 to 100 characters."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ReportError(f"amount must be a whole number of XOF above 0, not {amount!r}")
    ref = (reference or "").strip()
    if not ref or len(ref) > MAX_REFERENCE:
        raise ReportError(f"reference must have 1 to {MAX_REFERENCE} characters")
    return ref


def pay_funder(
    session: Session,
    funder: Funder,
    span: Span,
    *,
    amount: int,
    reference: str,
    paid_on: dt.date,
    by: str,
) -> Recorded:
    """Record a funder's payment against its statement for the span (D25): Dr bank / Cr
    receivable, once per reference; refused above what the statement still owes."""
    ref = check_payment(amount, reference)
    session.scalars(select(Funder.id).where(Funder.id == funder.id).with_for_update()).one()
    prior = session.scalars(
        select(FunderPayment).where(
            FunderPayment.funder_id == funder.id, FunderPayment.reference == ref
        )
    ).one_or_none()
    if prior is not None:
        if (prior.amount, prior.period) != (amount, span.label):
            raise ReportError(
                f"reference {ref!r} was recorded for {prior.amount} XOF on {prior.period}; "
                "a different payment needs its own reference"
            )
        return Recorded(prior, False, funder_statement(session, funder, span))
    statement = funder_statement(session, funder, span)
    if amount > statement.outstanding:
        raise ReportError(
            f"overpayment refused: {funder.code} owes {statement.outstanding} XOF for "
            f"{span.label} (statement {statement.total}, paid {statement.paid}), not {amount}"
        )
    key = f"funder_payment:{funder.id}:{ref}"
    ledger.post(
        session,
        mutual_id=funder.mutual_id,
        key=key,
        kind="funder_payment",
        occurred_on=paid_on,
        lines=[
            (ledger.accounts.bank(), amount),
            (ledger.accounts.receivable(funder.code), -amount),
        ],
        description=f"{funder.code} payment {ref} for {span.label}"[:300],
    )
    row = FunderPayment(
        mutual_id=funder.mutual_id,
        funder_id=funder.id,
        period=span.label,
        amount=amount,
        reference=ref,
        paid_on=paid_on,
        ledger_key=key,
        recorded_by=by[:200],
    )
    session.add(row)
    session.flush()
    return Recorded(row, True, funder_statement(session, funder, span))


def receivable_position(session: Session, funder: Funder) -> tuple[int, int]:
    """(the receivable's balance, every live share claimed minus every payment): the two agree
    when the ledger and the statements do (acceptance of issue 17)."""
    balance = ledger.balance(session, funder.mutual_id, ledger.accounts.receivable(funder.code))
    claimed = funder_statement(session, funder, Span("all", dt.date(1900, 1, 1), dt.date.max))
    paid = session.scalar(
        select(func.coalesce(func.sum(FunderPayment.amount), 0)).where(
            FunderPayment.funder_id == funder.id
        )
    )
    return balance, claimed.total - int(paid or 0)
