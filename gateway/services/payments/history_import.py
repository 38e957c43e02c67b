"""Historical and cash payments import (interfaces.md, Files: Payments): every line is checked
first; then each payment is received as of its `paid_on` day, in date order (D7, D8), through
the one entry point that credits and allocates money. References make it idempotent.

In bounded memory (issue 15): lines are checked as the file is read and staged `CHUNK` at a
time in a temporary table (`lib.staging`); the rules across lines (a reference repeated, an
unknown household, a reference recorded with other details) run there in SQL, and the lines
are read back in (paid_on, line) order in keyed chunks. The file is never held whole to be
sorted."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    or_,
    select,
)
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import (
    MAX_PROBLEMS,
    Cells,
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
from gateway.lib.staging import Checker, ChunkWriter, Rule, index_loaded, temporary
from gateway.models import Household, Mutual
from gateway.models.payment import CHANNELS
from gateway.services.coverage import PaymentConflict, receive_payment

COLUMNS = ("household_number", "amount", "paid_on", "channel", "reference")
MAX_AMOUNT = 10**12  # XOF; anything above is a typo, not a contribution
_WHOLE = re.compile(r"[0-9]+")
CHUNK = 500  # lines staged, and received, a chunk
CAP = MAX_PROBLEMS  # problems listed; the rest are counted

# One row per data line; `ok` False: the line has a problem (only its reference is kept).
STAGE = Table(
    "payments_import_rows",
    MetaData(),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("ok", Boolean, nullable=False),
    Column("household", String),
    Column("amount", BigInteger),
    Column("paid_on", Date),
    Column("channel", String),
    Column("reference", String),
    prefixes=["TEMPORARY"],
)
_INDEXES = {"reference": "reference", "household": "household", "paid_on": "paid_on, line"}
P = STAGE.name
DUPLICATE = Rule(
    f"SELECT s.line, 0 AS sub, s.reference, f.first FROM {P} s "
    f"JOIN (SELECT reference, MIN(line) AS first FROM {P} GROUP BY reference) f "
    "ON f.reference = s.reference WHERE s.line > f.first",
    lambda r: ("reference", f"{r.reference!r} already on line {r.first}"),
)
KNOWN = (  # households exist in this mutual; a reference already recorded carries the same
    # payment (then it is skipped), anything else is a conflict
    Rule(
        f"SELECT s.line, 0 AS sub, s.household FROM {P} s WHERE s.ok AND NOT EXISTS "
        "(SELECT 1 FROM households h WHERE h.mutual_id = :m AND h.number = s.household)",
        lambda r: ("household_number", f"unknown household {r.household!r}"),
    ),
    Rule(
        "SELECT s.line, 0 AS sub, s.reference, p.amount, p.channel, p.paid_on, "
        f"e.number AS owner FROM {P} s "
        "JOIN households h ON h.mutual_id = :m AND h.number = s.household "
        "JOIN payments p ON p.mutual_id = :m AND p.reference = s.reference "
        "LEFT JOIN households e ON e.id = p.household_id "
        "WHERE s.ok AND (p.household_id IS NULL OR p.household_id <> h.id "
        "OR p.amount <> s.amount OR p.paid_on <> s.paid_on OR p.channel <> s.channel)",
        lambda r: (
            "reference",
            f"{r.reference!r} already recorded as {r.amount} XOF {r.channel} on {r.paid_on} "
            f"for {r.owner!r}",
        ),
    ),
)


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
    report = PaymentsReport()
    with temporary(session, STAGE):
        _check(session, mutual, source, today)
        for rows in _in_date_order(session):
            _receive(session, mutual, rows, report)
    return report


def _check(session: Session, mutual: Mutual, source: Source, today: dt.date | None) -> None:
    """Stage every line; `ImportErrors` listing each bad line (in line order, capped)."""
    problems = Problems(cap=CAP)
    dates: dict[str, dt.date] = {}
    writer = ChunkWriter(session, STAGE, CHUNK)
    for line, cells in iter_rows(source, COLUMNS):
        if len(dates) >= 10_000:
            dates.clear()
        writer.add(_staged(line, cells, _parse(RowCheck(line, cells, problems), dates, today)))
    writer.flush()
    index_loaded(session, STAGE, _INDEXES)
    checker = Checker(session, {"m": mutual.id}, CAP)
    checker.run(0, DUPLICATE)
    checker.add_problems(1, problems)
    for rule in KNOWN:
        checker.run(2, rule)
    checker.raise_if_any()


def _staged(line: int, cells: Cells, item: dict[str, Any] | None) -> dict[str, Any]:
    """A bad line keeps only its reference (a reference repeated is a problem of its own)."""
    if item is not None:
        return {"line": line, "ok": True, **item}
    empty = dict.fromkeys(("household", "amount", "paid_on", "channel"))
    return {"line": line, "ok": False, **empty, "reference": cells["reference"]}


def _in_date_order(session: Session) -> Any:
    """The good lines, `CHUNK` at a time, keyed on (paid_on, line)."""
    s = STAGE.c
    query = select(STAGE).where(s.ok).order_by(s.paid_on, s.line).limit(CHUNK)
    after = query
    while rows := list(session.execute(after)):
        yield rows
        day, line = rows[-1].paid_on, rows[-1].line
        after = query.where(or_(s.paid_on > day, and_(s.paid_on == day, s.line > line)))


def _receive(session: Session, mutual: Mutual, rows: list[Any], report: PaymentsReport) -> None:
    numbers = sorted({row.household for row in rows})
    query = select(Household).where(Household.mutual_id == mutual.id)
    households = {h.number: h for h in session.scalars(query.where(Household.number.in_(numbers)))}
    for item in rows:
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


def _parse(
    row: RowCheck, dates: dict[str, dt.date], today: dt.date | None
) -> dict[str, Any] | None:
    household = row.take("household_number", required)
    amount = row.take("amount", _amount)
    paid_on = row.take("paid_on", lambda raw: _not_after(parse_date(raw, dates), today))
    channel = row.take("channel", _channel)
    reference = row.take("reference", _reference)
    if not row.ok:
        return None
    return {
        "household": household,
        "amount": amount,
        "paid_on": paid_on,
        "channel": channel,
        "reference": reference,
    }


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
