"""Historical and cash payments import (interfaces.md, Files: Payments): every line is checked
first; then each payment is received as of its `paid_on` day, in date order (D7, D8), through
the one entry point that credits and allocates money. References make it idempotent."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Household, Mutual, Payment
from gateway.models.payment import CHANNELS
from gateway.services.allocation import PaymentConflict, receive_payment
from gateway.services.members_import import (
    Cells,
    ImportErrors,
    Problems,
    Source,
    parse_date,
    read_rows,
)

COLUMNS = ("household_number", "amount", "paid_on", "channel", "reference")
MAX_AMOUNT = 10**12  # XOF; anything above is a typo, not a contribution
_WHOLE = re.compile(r"[0-9]+")
_CHUNK = 500


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
    seen: dict[str, int] = {}
    for line, cells in read_rows(source, COLUMNS):
        reference = cells["reference"]
        if reference in seen:
            problems.add(line, "reference", f"{reference!r} already on line {seen[reference]}")
        seen.setdefault(reference, line)
        item = _parse(line, cells, dates, today, problems)
        if item is not None:
            lines.append(item)
    households = _households(session, mutual, {item.household for item in lines})
    _check_known(session, mutual, lines, households, problems)
    if problems:
        raise ImportErrors(problems.by_line())
    return lines, households


def _parse(
    line: int, cells: Cells, dates: dict[str, dt.date], today: dt.date | None, problems: Problems
) -> PaymentLine | None:
    before = len(problems)
    household, raw_amount, channel = cells["household_number"], cells["amount"], cells["channel"]
    if not household:
        problems.add(line, "household_number", "required")
    amount = int(raw_amount) if _WHOLE.fullmatch(raw_amount) else 0
    if not 0 < amount <= MAX_AMOUNT:
        reason = f"must be a whole number of XOF (digits only) from 1 to {MAX_AMOUNT}"
        problems.add(line, "amount", f"{reason}, got {raw_amount!r}")
    try:
        paid_on = parse_date(cells["paid_on"], dates)
        if today is not None and paid_on > today:
            problems.add(line, "paid_on", f"{paid_on} is in the future")
    except ValueError as exc:
        problems.add(line, "paid_on", str(exc))
    if channel not in CHANNELS:
        problems.add(line, "channel", f"must be one of {', '.join(CHANNELS)}, got {channel!r}")
    reference = cells["reference"]
    if not reference or len(reference) > 100:
        problems.add(line, "reference", "required, at most 100 characters")
    if len(problems) > before:
        return None
    return PaymentLine(line, household, amount, paid_on, channel, reference)


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
    found: dict[str, Household] = {}
    wanted = sorted(numbers)
    for i in range(0, len(wanted), _CHUNK):
        query = select(Household).where(
            Household.mutual_id == mutual.id, Household.number.in_(wanted[i : i + _CHUNK])
        )
        found.update((h.number, h) for h in session.scalars(query))
    return found


def _recorded(session: Session, mutual: Mutual, references: list[str]) -> dict[str, Payment]:
    found: dict[str, Payment] = {}
    for i in range(0, len(references), _CHUNK):
        query = select(Payment).where(
            Payment.mutual_id == mutual.id, Payment.reference.in_(references[i : i + _CHUNK])
        )
        found.update((p.reference, p) for p in session.scalars(query))
    return found
