"""Levy statements and remittances (D4, D25): what each levy took from the contributions
earned for a period (one line per allocation transaction: household, period, shares,
earned, levy), and its remittance to the fund (Dr levy / Cr bank), never above what is owed.

The levy of a transaction is read from its ledger entry on `liab:levy:<name>`, and only
live transactions count (a reversed allocation, D7b, owes its levy no more)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    Allocation,
    CoveragePeriod,
    Household,
    LedgerEntry,
    LedgerTransaction,
    LevyRemittance,
    Mutual,
    Product,
)
from gateway.models import Levy as LevyRow
from gateway.services import ledger
from gateway.services.coverage import live_allocation
from gateway.services.reports.csvfiles import csv_text
from gateway.services.reports.errors import ReportError
from gateway.services.reports.funders import check_payment
from gateway.services.reports.spans import Span

HEADER = ("household", "period_start", "period_end", "shares", "earned", "levy")


@dataclass(frozen=True, order=True)
class LevyLine:
    household: str
    period_start: dt.date
    period_end: dt.date
    shares: int  # beneficiaries' shares in the transaction
    earned: int  # member + funder shares
    levy: int


@dataclass(frozen=True)
class LevyStatement:
    mutual: Mutual
    levy: str
    span: Span
    lines: list[LevyLine]
    remittances: list[LevyRemittance]

    @property
    def total(self) -> int:
        return sum(line.levy for line in self.lines)

    @property
    def remitted(self) -> int:
        return sum(r.amount for r in self.remittances)

    @property
    def outstanding(self) -> int:
        return self.total - self.remitted


def levy_names(session: Session, mutual: Mutual) -> list[str]:
    """The levies the mutual's products carry (D4)."""
    query = (
        select(LevyRow.name)
        .join(Product, Product.id == LevyRow.product_id)
        .where(Product.mutual_id == mutual.id)
        .distinct()
    )
    return sorted(session.scalars(query))


def levy_named(session: Session, mutual: Mutual, name: str) -> str:
    if name not in levy_names(session, mutual):
        raise ReportError(f"unknown levy {name!r} in mutual {mutual.code}")
    return name


def levy_statement(session: Session, mutual: Mutual, levy: str, span: Span) -> LevyStatement:
    account = ledger.accounts.levy(levy)
    query = (
        select(
            Household.number,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
            func.count(Allocation.id),
            func.sum(Allocation.member_amount + Allocation.funder_amount),
            func.max(LedgerEntry.amount),
        )
        .join(Household, Household.id == Allocation.household_id)
        .join(CoveragePeriod, CoveragePeriod.id == Allocation.period_id)
        .join(
            LedgerTransaction,
            and_(
                LedgerTransaction.mutual_id == Allocation.mutual_id,
                LedgerTransaction.idempotency_key == Allocation.ledger_key,
            ),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(Account, and_(Account.id == LedgerEntry.account_id, Account.name == account))
        .where(
            Allocation.mutual_id == mutual.id,
            Allocation.kind == "contribution",
            CoveragePeriod.starts_on.between(span.first, span.last),
            live_allocation(),
        )
        .group_by(
            Allocation.ledger_key,
            Household.number,
            CoveragePeriod.starts_on,
            CoveragePeriod.ends_on,
        )
    )
    lines = sorted(
        LevyLine(number, start, end, int(count), int(earned), -int(entry))
        for number, start, end, count, earned, entry in session.execute(query)
    )
    remitted = select(LevyRemittance).where(
        LevyRemittance.mutual_id == mutual.id,
        LevyRemittance.levy == levy,
        LevyRemittance.period == span.label,
    )
    rows = list(session.scalars(remitted.order_by(LevyRemittance.paid_on, LevyRemittance.id)))
    return LevyStatement(mutual, levy, span, lines, rows)


def levy_csv(statement: LevyStatement) -> str:
    rows = (
        (x.household, x.period_start, x.period_end, x.shares, x.earned, x.levy)
        for x in statement.lines
    )
    return csv_text(HEADER, rows)


@dataclass(frozen=True)
class Remitted:
    remittance: LevyRemittance
    created: bool
    statement: LevyStatement


def remit_levy(
    session: Session,
    mutual: Mutual,
    levy: str,
    span: Span,
    *,
    amount: int,
    reference: str,
    paid_on: dt.date,
    by: str,
) -> Remitted:
    """D25: the mutual pays the fund (Dr levy / Cr bank), once per reference, never more
    than the statement still owes."""
    ref = check_payment(amount, reference)
    session.scalars(select(Mutual.id).where(Mutual.id == mutual.id).with_for_update()).one()
    prior = session.scalars(
        select(LevyRemittance).where(
            LevyRemittance.mutual_id == mutual.id,
            LevyRemittance.levy == levy,
            LevyRemittance.reference == ref,
        )
    ).one_or_none()
    if prior is not None:
        if (prior.amount, prior.period) != (amount, span.label):
            raise ReportError(
                f"reference {ref!r} was recorded for {prior.amount} XOF on {prior.period}; "
                "a different remittance needs its own reference"
            )
        return Remitted(prior, False, levy_statement(session, mutual, levy, span))
    statement = levy_statement(session, mutual, levy, span)
    if amount > statement.outstanding:
        raise ReportError(
            f"over-remittance refused: levy {levy} owes {statement.outstanding} XOF for "
            f"{span.label} (statement {statement.total}, remitted {statement.remitted}), "
            f"not {amount}"
        )
    key = f"levy_remittance:{levy}:{ref}"
    ledger.post(
        session,
        mutual_id=mutual.id,
        key=key,
        kind="levy_remittance",
        occurred_on=paid_on,
        lines=[(ledger.accounts.levy(levy), amount), (ledger.accounts.bank(), -amount)],
        description=f"levy {levy} remittance {ref} for {span.label}"[:300],
    )
    row = LevyRemittance(
        mutual_id=mutual.id,
        levy=levy,
        period=span.label,
        amount=amount,
        reference=ref,
        paid_on=paid_on,
        ledger_key=key,
        recorded_by=by[:200],
    )
    session.add(row)
    session.flush()
    return Remitted(row, True, levy_statement(session, mutual, levy, span))
