"""Statement import (payments.md, "Reconciliation"): idempotent by file hash and by each
line's natural key. Every line is checked first; a line already imported from another file
with other details is a conflict, so the file imports nothing and says why. A line repeated
word for word inside the file is skipped like a line of an overlapping file and kept as a
repeat (`statement_repeats`), which the report counts in the duplicate bucket.

Issue 15: the file is read as a stream, in two passes, keeping only compact state (hashed
keys, counts, capped problems), so memory stays bounded whatever the file's size."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
    COMPARED,
    GENERIC,
    Repeat,
    StatementRow,
    StatementSource,
    conflict_in_file,
)

PROVIDERS = ("sandbox", "cinetpay", "mtnmomo")
_CHUNK = 500
_LOW = (1 << 64) - 1
MAX_PROBLEMS = 1_000  # problems listed; the rest of a huge bad file is counted


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
    data: bytes | Path,
    *,
    filename: str = "",
    now: dt.datetime,
) -> StatementImport:
    """Import a statement (its bytes, or a path read as a stream: issue 15, memory stays
    bounded whatever the file's size). Read twice: first every line checked, duplicates inside
    the file found from compact keys and lines already imported compared, chunk by chunk;
    then the new lines and the repeats written in chunks. Any bad line imports nothing."""
    if provider not in PROVIDERS:
        raise ImportErrors([f"provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}"])
    source = StatementSource(data)
    digest = source.check_text()
    scan = Scan(session, mutual, provider, now)
    scan.read(source)
    days = sorted(scan.days)
    known = session.scalars(
        select(StatementFile).where(
            StatementFile.mutual_id == mutual.id,
            StatementFile.provider == provider,
            StatementFile.sha256 == digest,
        )
    ).one_or_none()
    if known is not None:
        return StatementImport(known.id, True, known.layout, days=days)
    scan.conflicts.raise_if_any()
    scan.future.raise_if_any()
    skipped = len(scan.skipped)
    record = StatementFile(
        mutual_id=mutual.id,
        provider=provider,
        sha256=digest,
        filename=filename[-200:],
        layout=scan.layout.name,
        lines=scan.firsts - skipped,
        skipped=skipped,
        imported_at=now,
    )
    session.add(record)
    session.flush()
    _write(session, record, scan, source)
    return StatementImport(
        record.id, False, scan.layout.name, record.lines, skipped, scan.repeats, days
    )


def _key(natural_key: str) -> int:
    """A natural key as a 128-bit number: a million of them fit in memory as ints."""
    return int.from_bytes(hashlib.blake2b(natural_key.encode(), digest_size=16).digest())


def _details(row: StatementRow) -> int:
    """64 bits of what a line says besides its key: equal for word-for-word repeats."""
    said = "|".join(str(getattr(row, k)) for k in COMPARED)
    return int.from_bytes(hashlib.blake2b(said.encode(), digest_size=8).digest())


class Scan:
    """The first pass over a statement: every line checked, and only compact state kept
    (natural key hashed -> its first line and a hash of its details packed in one int, the
    keys already imported, the days, counts, and at most MAX_PROBLEMS problems of each kind)."""

    def __init__(self, session: Session, mutual: Mutual, provider: str, now: dt.datetime) -> None:
        self.session, self.mutual, self.provider = session, mutual, provider
        self.today = local_date(now, mutual.timezone)
        self.layout = GENERIC
        self.first: dict[int, int] = {}  # key -> first line << 64 | details hash
        self.copies: dict[int, int] = {}  # key -> copies so far, for keys repeated in the file
        self.skipped: set[int] = set()  # keys already imported from another file
        self.days: set[dt.date] = set()
        self.conflicts = Problems(cap=MAX_PROBLEMS)  # against lines already imported
        self.future = Problems(cap=MAX_PROBLEMS)
        self.firsts = self.repeats = 0

    def rows(self, source: StatementSource, problems: Problems) -> Iterator[StatementRow]:
        self.layout, rows = source.rows(self.provider, self.mutual.country, problems)
        return rows

    def read(self, source: StatementSource) -> None:
        problems = Problems(cap=MAX_PROBLEMS)
        clashes: list[tuple[StatementRow, int]] = []  # (row, earlier line): other details
        chunk: list[StatementRow] = []
        for row in self.rows(source, problems):
            key, said = _key(row.natural_key), _details(row)
            earlier = self.first.setdefault(key, row.line << 64 | said)
            if earlier >> 64 == row.line:
                self.firsts += 1
                self.days.add(row.day)
                self._refuse_future(row)
                chunk.append(row)
                if len(chunk) == _CHUNK:
                    self._compare_existing(chunk)
                    chunk = []
            elif earlier & _LOW == said:
                self.copies[key] = 1
                self.repeats += 1
            elif len(clashes) < MAX_PROBLEMS:
                clashes.append((row, earlier >> 64))
            else:
                problems.more += 1
        self._compare_existing(chunk)
        self._explain(source, problems, clashes)
        problems.raise_if_any()
        if not self.firsts:
            raise ImportErrors(["file: no statement line"])

    def is_first(self, row: StatementRow, key: int) -> bool:
        return self.first[key] >> 64 == row.line

    def _refuse_future(self, row: StatementRow) -> None:
        """A line dated after the mutual's today would credit money on a day still to come (a
        lost callback is applied as of its line): refused, as the payments import refuses it.
        Reported only when nothing else is wrong."""
        if local_date(row.occurred_at, self.mutual.timezone) > self.today:
            when = row.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
            column = self.layout.columns["occurred_at"]
            self.future.add(row.line, column, f"{when} is in the future (today is {self.today})")

    def _compare_existing(self, rows: list[StatementRow]) -> None:
        """A line already imported from another file with other details is a conflict; the
        same line again is skipped."""
        existing = _existing(self.session, self.mutual.id, self.provider, rows)
        for row in rows:
            old = existing.get(row.natural_key)
            if old is None:
                continue
            self.skipped.add(_key(row.natural_key))
            if not row.same_as(old):
                self.conflicts.add(
                    row.line,
                    "provider_txn_id",
                    f"{row.provider_txn_id!r} already imported with other details "
                    f"({'; '.join(row.differences(old))})",
                )

    def _explain(
        self,
        source: StatementSource,
        problems: Problems,
        clashes: list[tuple[StatementRow, int]],
    ) -> None:
        """Reads again the earlier lines that clashing lines contradict, to say what differs."""
        if not clashes:
            return
        wanted = {line for _, line in clashes}
        earlier = {
            row.line: row for row in self.rows(source, Problems(cap=0)) if row.line in wanted
        }
        for row, line in clashes:
            problems.add(row.line, *conflict_in_file(self.layout, row, earlier[line]))


def _write(session: Session, record: StatementFile, scan: Scan, source: StatementSource) -> None:
    """The second pass: the new lines in chunks, their day totals, then the repeats (one row
    per extra copy of a natural key; a copy an earlier file already showed adds none)."""
    lines: list[dict[str, object]] = []
    repeats: list[Repeat] = []
    for row in scan.rows(source, Problems(cap=0)):
        key = _key(row.natural_key)
        if scan.is_first(row, key):
            if key not in scan.skipped:
                lines.append(_values(record, row))
        else:
            scan.copies[key] += 1
            repeats.append(Repeat(row, scan.first[key] >> 64, scan.copies[key]))
        if len(lines) == _CHUNK:
            session.execute(insert(StatementLine), lines)
            lines = []
        if len(repeats) == _CHUNK:
            _insert_repeats(session, record, repeats)
            repeats = []
    if lines:
        session.execute(insert(StatementLine), lines)
    if record.lines:
        total_days(session, record.id)
    if repeats:
        _insert_repeats(session, record, repeats)


def _insert_repeats(session: Session, record: StatementFile, repeats: list[Repeat]) -> None:
    R = StatementRepeat
    keys = sorted({r.row.natural_key for r in repeats})
    query = select(R.natural_key, R.occurrence).where(
        R.mutual_id == record.mutual_id, R.provider == record.provider, R.natural_key.in_(keys)
    )
    known = {(key, n) for key, n in session.execute(query)}
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
    session: Session, mutual_id: int, provider: str, rows: list[StatementRow]
) -> dict[str, dict[str, object]]:
    """The stored lines with the natural keys of `rows` (at most `_CHUNK` of them)."""
    L = StatementLine
    columns = (L.natural_key, L.reference, L.msisdn, L.amount, L.fee, L.status, L.occurred_at)
    keys = [row.natural_key for row in rows]
    found: dict[str, dict[str, object]] = {}
    if not keys:
        return found
    stmt = select(*columns).where(
        L.mutual_id == mutual_id, L.provider == provider, L.natural_key.in_(keys)
    )
    for row in session.execute(stmt).mappings():
        found[row["natural_key"]] = dict(row)
    return found
