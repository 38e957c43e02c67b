"""Historical and cash payments import (interfaces.md, Files: Payments): every line is checked
first; then each payment is received as of its `paid_on` day, in date order (D7, D8), through
the one entry point that credits and allocates money. References make it idempotent."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.lib.csv_rows import (
    FirstLines,
    ImportErrors,
    Problems,
    RowCheck,
    Source,
    choice,
    iter_rows,
    parse_date,
    required,
    text,
)
from gateway.models import Household, Mutual, Payment
from gateway.models.payment import CHANNELS
from gateway.services.coverage import PaymentConflict, receive_payment

COLUMNS = ("household_number", "amount", "paid_on", "channel", "reference")
MAX_AMOUNT = 10**12  # XOF; anything above is a typo, not a contribution
_WHOLE = re.compile(r"[0-9]+")
_CHUNK = 500

Model = TypeVar("Model")


@dataclass(frozen=True)
class PaymentLine:
    line: int
    household: str
    amount: int
    paid_on: dt.date
    channel: str
    reference: str


@dataclass
class PaymentsReport:
    created: int = 0
    already_present: int = 0
    amount_created: int = 0
    references: list[str] = field(default_factory=list)  # of the payments created
    held: list[str] = field(default_factory=list)  # created but held for an operator

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_payments(
    session: Session, mutual: Mutual, source: Source, *, today: dt.date | None = None
) -> PaymentsReport:
    """Check every line (a payment after `today` is refused), then receive the payments in
    (paid_on, line) order. Importing the same file again adds nothing."""
    lines, households = _check(session, mutual, source, today)
    report = PaymentsReport()
    for item in sorted(lines, key=lambda p: (p.paid_on, p.line)):
        try:
            payment, created = receive_payment(
                session,
                household=households[item.household],
                amount=item.amount,
                paid_on=item.paid_on,
                channel=item.channel,
                reference=item.reference,
            )
        except PaymentConflict as exc:
            raise ImportErrors([f"line {item.line}: reference: {exc}"]) from exc
        if created:
            report.created += 1
            report.amount_created += payment.amount
            report.references.append(payment.reference)
            if payment.held:
                report.held.append(payment.reference)
        else:
            report.already_present += 1
    return report


def _check(
    session: Session, mutual: Mutual, source: Source, today: dt.date | None
) -> tuple[list[PaymentLine], dict[str, Household]]:
    """Every line valid with its household, or `ImportErrors` listing each bad line."""
    problems = Problems()
    dates: dict[str, dt.date] = {}
    lines: list[PaymentLine] = []
    seen = FirstLines()
    for line, cells in iter_rows(source, COLUMNS):
        seen.check(line, "reference", cells["reference"], problems)
        item = _parse(RowCheck(line, cells, problems), dates, today)
        if item is not None:
            lines.append(item)
    households = _households(session, mutual, {item.household for item in lines})
    _check_known(session, mutual, lines, households, problems)
    problems.raise_if_any()
    return lines, households


def _parse(row: RowCheck, dates: dict[str, dt.date], today: dt.date | None) -> PaymentLine | None:
    household = row.take("household_number", required)
    amount = row.take("amount", _amount)
    paid_on = row.take("paid_on", lambda raw: _not_after(parse_date(raw, dates), today))
    channel = row.take("channel", _channel)
    reference = row.take("reference", _reference)
    if not row.ok:
        return None
    return PaymentLine(row.line, household, amount, paid_on, channel, reference)


def _amount(raw: str) -> int:
    amount = int(raw) if _WHOLE.fullmatch(raw) else 0
    if not 0 < amount <= MAX_AMOUNT:
        reason = f"must be a whole number of XOF (digits only) from 1 to {MAX_AMOUNT}"
        raise ValueError(f"{reason}, got {raw!r}")
    return amount


def _not_after(day: dt.date, today: dt.date | None) -> dt.date:
    if today is not None and day > today:
        raise ValueError(f"{day} is in the future")
    return day


_channel = choice(CHANNELS, ignore_case=False)
_reference = text(100)


def _check_known(
    session: Session,
    mutual: Mutual,
    lines: list[PaymentLine],
    households: dict[str, Household],
    problems: Problems,
) -> None:
    """Households must exist in this mutual; a reference already recorded must carry the
    same payment (then it is skipped), anything else is a conflict."""
    ids = {number: household.id for number, household in households.items()}
    recorded = _recorded(session, mutual, [p.reference for p in lines])
    for item in lines:
        if item.household not in ids:
            problems.add(item.line, "household_number", f"unknown household {item.household!r}")
            continue
        old = recorded.get(item.reference)
        mine = (ids[item.household], item.amount, item.paid_on, item.channel)
        if old is not None and (old.household_id, old.amount, old.paid_on, old.channel) != mine:
            was = f"{old.amount} XOF {old.channel} on {old.paid_on} for {old.household.number!r}"
            problems.add(item.line, "reference", f"{item.reference!r} already recorded as {was}")


def _households(session: Session, mutual: Mutual, numbers: set[str]) -> dict[str, Household]:
    query = select(Household).where(Household.mutual_id == mutual.id)
    return {h.number: h for h in _where_in(session, query, Household.number, sorted(numbers))}


def _recorded(session: Session, mutual: Mutual, references: list[str]) -> dict[str, Payment]:
    query = select(Payment).where(Payment.mutual_id == mutual.id)
    return {p.reference: p for p in _where_in(session, query, Payment.reference, references)}


def _where_in(
    session: Session, query: Select[Model], column: InstrumentedAttribute[str], values: list[str]
) -> list[Model]:
    """`query` restricted to `column IN values`, a chunk of values a statement."""
    found: list[Model] = []
    for i in range(0, len(values), _CHUNK):
        found.extend(session.scalars(query.where(column.in_(values[i : i + _CHUNK]))))
    return found
