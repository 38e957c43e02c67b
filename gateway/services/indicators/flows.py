"""Money and message flows of D22 per calendar year and month: amounts received by channel
(mobile money per provider), levies and funders' receivables from the ledger, SMS sent,
delivered, failed and their cost, USSD sessions completed or dropped (and where), facility
checks per facility (D26). Each is one GROUP BY (mutual, year, month, ...) over its table,
restricted to the days being recomputed; times are UTC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func, select
from sqlalchemy.orm import Session

from gateway.models import (
    Account,
    FacilityCheck,
    Household,
    LedgerEntry,
    LedgerTransaction,
    Mutual,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentIntent,
    UssdHop,
    UssdSessionEvent,
)
from gateway.services import ledger
from gateway.services.indicators.figures import Figures
from gateway.services.indicators.periods import Period

HANDED = (OutboxStatus.SENT, OutboxStatus.DELIVERED)
UNSENT = (OutboxStatus.FAILED, OutboxStatus.REJECTED, OutboxStatus.EXPIRED)
DROPPED = ("Incomplete", "Failed")
DEFAULT_PRICE = 25  # XOF per segment when the mutual's file names none (reminders.cost)
# The chart of accounts builds every name (D4 levies, D3 funders' receivables): its prefixes.
LEVY = ledger.accounts.levy("")
RECEIVABLE = ledger.accounts.receivable("-").removesuffix("-")


class Labels:
    """Maps a (year, month) to the labels of the periods being recomputed that hold it."""

    def __init__(self, periods: Sequence[Period]) -> None:
        self.wanted = {p.label for p in periods}
        self.first = min((p.start for p in periods), default=dt.date.max)
        self.last = max((p.end for p in periods), default=dt.date.min)

    def of(self, year: Any, month: Any) -> list[str]:
        found = [f"{int(year):04d}", f"{int(year):04d}-{int(month):02d}"]
        return [label for label in found if label in self.wanted]


def _ym(column: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    return extract("year", column), extract("month", column)


def _moments(labels: Labels) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(labels.first, dt.time(), tzinfo=dt.UTC)
    return start, dt.datetime.combine(labels.last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def payment_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    """AMOUNT and PAYMENTS per channel ('mobile:<provider>' for mobile money) and section."""
    year, month = _ym(Payment.paid_on)
    query = (
        select(
            Payment.mutual_id,
            Household.section_id,
            Payment.channel,
            PaymentIntent.provider,
            year,
            month,
            func.sum(Payment.amount),
            func.count(),
        )
        .join(Household, Household.id == Payment.household_id)
        .outerjoin(
            PaymentIntent,
            and_(
                PaymentIntent.payment_id == Payment.id, PaymentIntent.mutual_id == Payment.mutual_id
            ),
        )
        .where(Payment.mutual_id.in_(ids), Payment.paid_on.between(labels.first, labels.last))
        .group_by(
            Payment.mutual_id,
            Household.section_id,
            Payment.channel,
            PaymentIntent.provider,
            year,
            month,
        )
    )
    for mutual_id, section_id, channel, provider, y, m, amount, n in session.execute(query):
        key = f"mobile:{provider}" if channel == "mobile" and provider else channel
        for label in labels.of(y, m):
            out.count(mutual_id, section_id, label, "AMOUNT", amount, key=key)
            out.count(mutual_id, section_id, label, "PAYMENTS", n, key=key)


def ledger_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    """Levies owed (credited to the levy account, less reversals) and remitted (debited);
    what funders owe (receivable debited, less reversals) and paid (credited) (D4, D25)."""
    year, month = _ym(LedgerTransaction.occurred_on)
    reversal = LedgerTransaction.reverses_id.is_not(None)
    debit = func.sum(case((LedgerEntry.amount > 0, LedgerEntry.amount), else_=0))
    credit = func.sum(case((LedgerEntry.amount < 0, -LedgerEntry.amount), else_=0))
    query = (
        select(Account.mutual_id, Account.name, reversal, year, month, debit, credit)
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            Account.mutual_id.in_(ids),
            Account.name.startswith(LEVY) | Account.name.startswith(RECEIVABLE),
            LedgerTransaction.occurred_on.between(labels.first, labels.last),
        )
        .group_by(Account.mutual_id, Account.name, reversal, year, month)
    )
    for mutual_id, name, reversed_, y, m, dr, cr in session.execute(query):
        levy = name.startswith(LEVY)
        key = name.removeprefix(LEVY if levy else RECEIVABLE)
        owed_in, paid_out = (cr, dr) if levy else (dr, cr)
        owed = owed_in - (paid_out if reversed_ else 0)
        paid = 0 if reversed_ else paid_out
        owed_code, paid_code = (
            ("LEVY_OWED", "LEVY_PAID") if levy else ("FUNDER_OWED", "FUNDER_PAID")
        )
        for label in labels.of(y, m):
            out.count(mutual_id, None, label, owed_code, owed, key=key)
            out.count(mutual_id, None, label, paid_code, paid, key=key)


def _segments(length: int) -> int:
    """GSM-7 segments of a text of `length` characters (160, then 153 per part)."""
    return 1 if length <= 160 else -(-length // 153)


def sms_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    """SMS handed to the provider, delivered (SMS_DLR), failed, and their estimated cost
    (segments x the mutual's price per segment), by the day they were created."""
    prices = {
        m.id: int((m.sms_settings or {}).get("price_per_segment", DEFAULT_PRICE))
        for m in session.scalars(select(Mutual).where(Mutual.id.in_(ids)))
    }
    start, end = _moments(labels)
    year, month = _ym(OutboxMessage.created_at)
    length = func.length(OutboxMessage.text)
    query = (
        select(OutboxMessage.mutual_id, OutboxMessage.status, length, year, month, func.count())
        .where(
            OutboxMessage.mutual_id.in_(ids),
            OutboxMessage.created_at >= start,
            OutboxMessage.created_at < end,
        )
        .group_by(OutboxMessage.mutual_id, OutboxMessage.status, length, year, month)
    )
    for mutual_id, status, chars, y, m, n in session.execute(query):
        handed = status in HANDED
        for label in labels.of(y, m):
            out.count(mutual_id, None, label, "SMS", n if handed else 0)
            out.count(mutual_id, None, label, "SMS_FAILED", n if status in UNSENT else 0)
            cost = n * _segments(int(chars or 0)) * prices[mutual_id] if handed else 0
            out.count(mutual_id, None, label, "SMS_COST", cost)
            if handed or status in UNSENT:
                delivered = n if status == OutboxStatus.DELIVERED else 0
                out.add(mutual_id, None, label, "SMS_DLR", delivered, n)


def ussd_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    """USSD sessions ended, completed (USSD_DONE) and dropped per last screen (USSD_DROP)."""
    start, end = _moments(labels)
    ended = (
        UssdSessionEvent.mutual_id.in_(ids),
        UssdSessionEvent.received_at >= start,
        UssdSessionEvent.received_at < end,
    )
    year, month = _ym(UssdSessionEvent.received_at)
    query = (
        select(UssdSessionEvent.mutual_id, UssdSessionEvent.status, year, month, func.count())
        .where(*ended)
        .group_by(UssdSessionEvent.mutual_id, UssdSessionEvent.status, year, month)
    )
    for mutual_id, status, y, m, n in session.execute(query):
        for label in labels.of(y, m):
            out.count(mutual_id, None, label, "USSD", n)
            out.add(mutual_id, None, label, "USSD_DONE", n if status == "Success" else 0, n)
    last = (
        select(
            UssdSessionEvent.mutual_id.label("mutual_id"),
            year.label("y"),
            month.label("m"),
            func.max(UssdHop.id).label("hop_id"),
        )
        .join(
            UssdHop,
            and_(
                UssdHop.provider == UssdSessionEvent.provider,
                UssdHop.session_id == UssdSessionEvent.session_id,
            ),
        )
        .where(*ended, UssdSessionEvent.status.in_(DROPPED))
        .group_by(UssdSessionEvent.id, UssdSessionEvent.mutual_id, year, month)
        .subquery()
    )
    drops = (
        select(last.c.mutual_id, UssdHop.screen, last.c.y, last.c.m, func.count())
        .join(UssdHop, UssdHop.id == last.c.hop_id)
        .group_by(last.c.mutual_id, UssdHop.screen, last.c.y, last.c.m)
    )
    for mutual_id, screen, y, m, n in session.execute(drops):
        for label in labels.of(y, m):
            out.count(mutual_id, None, label, "USSD_DROP", n, key=screen[:64])


def check_figures(session: Session, ids: Sequence[int], labels: Labels, out: Figures) -> None:
    """D26: checks per facility, and the share that answered COVERED (CHECKS_OK)."""
    year, month = _ym(FacilityCheck.checked_on)
    facility = func.coalesce(FacilityCheck.facility, "")
    query = (
        select(FacilityCheck.mutual_id, facility, FacilityCheck.status, year, month, func.count())
        .where(
            FacilityCheck.mutual_id.in_(ids),
            FacilityCheck.checked_on.between(labels.first, labels.last),
        )
        .group_by(FacilityCheck.mutual_id, facility, FacilityCheck.status, year, month)
    )
    for mutual_id, place, status, y, m, n in session.execute(query):
        for label in labels.of(y, m):
            out.count(mutual_id, None, label, "CHECKS", n, key=place[:64])
            ok = n if status == "COVERED" else 0
            out.add(mutual_id, None, label, "CHECKS_OK", ok, n, key=place[:64])


# The flows other than payments: small tables, read grouped on both paths (the payments,
# as large as the register, are summed in SQL on PostgreSQL: insql.PAYMENTS).
OTHER_FLOWS = (ledger_figures, sms_figures, ussd_figures, check_figures)


def all_flows(
    session: Session, ids: Sequence[int], periods: Iterable[Period], out: Figures
) -> None:
    labels = Labels(list(periods))
    if not labels.wanted:
        return
    for figures in (payment_figures, *OTHER_FLOWS):
        figures(session, ids, labels, out)
