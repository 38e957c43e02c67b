"""Statement import (payments.md, "Reconciliation"): idempotent by file hash and by each
line's natural key. Every line is checked first; a line already imported from another file
with other details is a conflict, so the file imports nothing and says why. A line repeated
word for word inside the file is skipped like a line of an overlapping file and kept as a
repeat (`statement_repeats`), which the report counts in the duplicate bucket."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, case, func, insert, select
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.lib.csv_rows import ImportErrors, Problems
from gateway.models import (
    LineStatus,
    Mutual,
    StatementDay,
    StatementFile,
    StatementLine,
    StatementRepeat,
)
from gateway.services.reconciliation.statement_formats import (
    Repeat,
    StatementRow,
    parse_statement,
)

PROVIDERS = ("sandbox", "cinetpay", "mtnmomo")
_CHUNK = 500


@dataclass
class StatementImport:
    file_id: int
    already_imported: bool  # the same bytes came before: nothing added
    layout: str
    added: int = 0
    skipped: int = 0  # lines already imported from another file
    duplicates: int = 0  # lines repeating an earlier line of this file word for word
    days: list[dt.date] = field(default_factory=list)  # every business day the file covers


def import_statement(
    session: Session,
    mutual: Mutual,
    provider: str,
    data: bytes,
    *,
    filename: str = "",
    now: dt.datetime,
) -> StatementImport:
    if provider not in PROVIDERS:
        raise ImportErrors([f"provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}"])
    digest = hashlib.sha256(data).hexdigest()
    statement = parse_statement(data, provider, mutual.country)
    layout, rows, repeats = statement.layout, statement.rows, statement.repeats
    days = sorted({row.day for row in rows})
    known = session.scalars(
        select(StatementFile).where(
            StatementFile.mutual_id == mutual.id,
            StatementFile.provider == provider,
            StatementFile.sha256 == digest,
        )
    ).one_or_none()
    if known is not None:
        return StatementImport(known.id, True, known.layout, days=days)
    existing = _existing(session, mutual.id, provider, [r.natural_key for r in rows])
    _check_conflicts(rows, existing)
    _refuse_future(rows, layout.columns["occurred_at"], mutual, now)
    fresh = [row for row in rows if row.natural_key not in existing]
    record = StatementFile(
        mutual_id=mutual.id,
        provider=provider,
        sha256=digest,
        filename=filename[-200:],
        layout=layout.name,
        lines=len(fresh),
        skipped=len(rows) - len(fresh),
        imported_at=now,
    )
    session.add(record)
    session.flush()
    if fresh:
        session.execute(insert(StatementLine), [_values(record, row) for row in fresh])
        total_days(session, record.id)
    _keep_repeats(session, record, repeats)
    return StatementImport(
        record.id, False, layout.name, len(fresh), record.skipped, len(repeats), days
    )


def _keep_repeats(session: Session, record: StatementFile, repeats: list[Repeat]) -> None:
    """One row per extra copy of a natural key: a copy an earlier file already showed (an
    overlapping export repeating the same line) adds none."""
    if not repeats:
        return
    R = StatementRepeat
    keys = sorted({r.row.natural_key for r in repeats})
    known: set[tuple[str, int]] = set()
    for i in range(0, len(keys), _CHUNK):
        query = select(R.natural_key, R.occurrence).where(
            R.mutual_id == record.mutual_id,
            R.provider == record.provider,
            R.natural_key.in_(keys[i : i + _CHUNK]),
        )
        known.update((key, n) for key, n in session.execute(query))
    new = [r for r in repeats if (r.row.natural_key, r.occurrence) not in known]
    if new:
        session.execute(insert(R), [_repeat_values(record, r) for r in new])


def _repeat_values(record: StatementFile, repeat: Repeat) -> dict[str, object]:
    row = repeat.row
    return {
        "file_id": record.id,
        "mutual_id": record.mutual_id,
        "provider": record.provider,
        "natural_key": row.natural_key,
        "occurrence": repeat.occurrence,
        "line_no": row.line,
        "first_line_no": repeat.first_line,
        "reference": row.reference,
        "amount": row.amount,
        "status": row.status,
        "day": row.day,
    }


def _values(record: StatementFile, row: StatementRow) -> dict[str, object]:
    return {
        "file_id": record.id,
        "mutual_id": record.mutual_id,
        "provider": record.provider,
        "line_no": row.line,
        "natural_key": row.natural_key,
        "provider_txn_id": row.provider_txn_id,
        "reference": row.reference,
        "msisdn": row.msisdn,
        "amount": row.amount,
        "fee": row.fee,
        "currency": row.currency,
        "status": row.status,
        "occurred_at": row.occurred_at,
        "day": row.day,
    }


def _refuse_future(rows: list[StatementRow], column: str, mutual: Mutual, now: dt.datetime) -> None:
    """A line dated after the mutual's today would credit money on a day still to come (a
    lost callback is applied as of its line): refused, as the payments import refuses it."""
    today = local_date(now, mutual.timezone)
    problems = Problems()
    for row in rows:
        if local_date(row.occurred_at, mutual.timezone) > today:
            when = row.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
            problems.add(row.line, column, f"{when} is in the future (today is {today})")
    problems.raise_if_any()


def total_days(session: Session | Connection, file_id: int) -> None:
    """Keep a file's lines per business day (`statement_days`): what settlement posts, the
    report's statement figures and the newest line. Written once, with the lines, in the
    same transaction: lines are never changed afterwards, so the totals stay true."""
    L = StatementLine
    paid = L.status == LineStatus.SUCCEEDED
    totals = (
        select(
            L.file_id,
            L.day,
            L.mutual_id,
            L.provider,
            func.count(),
            func.sum(case((paid, 1), else_=0)),
            func.sum(case((paid, L.amount), else_=0)),
            func.sum(case((paid, L.fee), else_=0)),
            func.max(L.occurred_at),
        )
        .where(L.file_id == file_id)
        .group_by(L.file_id, L.day, L.mutual_id, L.provider)
    )
    columns = ("file_id", "day", "mutual_id", "provider", "lines", "paid", "collected", "fees")
    session.execute(insert(StatementDay).from_select((*columns, "newest_at"), totals))


def covered_days(
    session: Session, mutual_id: int, provider: str, days: Iterable[dt.date]
) -> set[dt.date]:
    """The days that some imported statement line of the provider falls on (a day without one
    is not a failure: the statement has not come yet, or nobody paid that day)."""
    wanted = sorted(set(days))
    if not wanted:
        return set()
    D = StatementDay
    query = select(D.day).where(D.mutual_id == mutual_id, D.provider == provider, D.day.in_(wanted))
    return set(session.scalars(query.distinct()))


def _existing(
    session: Session, mutual_id: int, provider: str, keys: list[str]
) -> dict[str, dict[str, object]]:
    L = StatementLine
    columns = (L.natural_key, L.reference, L.msisdn, L.amount, L.fee, L.status, L.occurred_at)
    found: dict[str, dict[str, object]] = {}
    for i in range(0, len(keys), _CHUNK):
        stmt = select(*columns).where(
            L.mutual_id == mutual_id,
            L.provider == provider,
            L.natural_key.in_(keys[i : i + _CHUNK]),
        )
        for row in session.execute(stmt).mappings():
            found[row["natural_key"]] = dict(row)
    return found


def _check_conflicts(rows: list[StatementRow], existing: dict[str, dict[str, object]]) -> None:
    problems = Problems()
    for row in rows:
        old = existing.get(row.natural_key)
        if old is not None and not row.same_as(old):
            problems.add(
                row.line,
                "provider_txn_id",
                f"{row.provider_txn_id!r} already imported with other details "
                f"({'; '.join(row.differences(old))})",
            )
    problems.raise_if_any()
