"""Statement import (payments.md, "Reconciliation"): idempotent by file hash and by each
line's natural key. Every line is checked first; a line already imported from another file
with other details is a conflict, so the file imports nothing and says why. A line repeated
word for word inside the file is skipped like a line of an overlapping file and kept as a
repeat (`statement_repeats`), which the report counts in the duplicate bucket."""

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
    Layout,
    Repeat,
    StatementRow,
    StatementSource,
    conflict_in_file,
)

PROVIDERS = ("sandbox", "cinetpay", "mtnmomo")
_CHUNK = 500
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
    bounded whatever the file's size). Read in passes: every line checked, duplicates inside
    the file found from compact keys; then lines already imported compared; then written in
    chunks. Any bad line imports nothing."""
    if provider not in PROVIDERS:
        raise ImportErrors([f"provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}"])
    source = StatementSource(data)
    digest = source.check_text()
    scan = Scan.read(source, provider, mutual, now)
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
    skipped = _check_conflicts(session, scan, source, mutual, provider)
    scan.future.raise_if_any()
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
    said = "|".join(str(row.details()[k]) for k in COMPARED)
    return int.from_bytes(hashlib.blake2b(said.encode(), digest_size=8).digest())


@dataclass
class Scan:
    """The first pass over a statement: every line checked, and only compact state kept:
    natural key (hashed) -> its first line and a hash of its details, the days, the counts."""

    layout: Layout
    provider: str
    country: str
    first: dict[int, tuple[int, int]]  # key -> (first line, details hash)
    copies: dict[int, int]  # key -> number of copies, for keys repeated in the file
    days: set[dt.date]
    future: Problems
    firsts: int = 0
    repeats: int = 0

    @classmethod
    def read(cls, source: StatementSource, provider: str, mutual: Mutual, now: dt.datetime) -> Scan:
        problems = Problems(cap=MAX_PROBLEMS)
        layout, rows = source.rows(provider, mutual.country, problems)
        scan = cls(layout, provider, mutual.country, {}, {}, set(), Problems(cap=MAX_PROBLEMS))
        clashes: list[tuple[StatementRow, int]] = []  # (row, earlier line): other details
        today = local_date(now, mutual.timezone)
        for row in rows:
            key, said = _key(row.natural_key), _details(row)
            earlier = scan.first.setdefault(key, (row.line, said))
            if earlier[0] == row.line:
                scan.firsts += 1
                scan.days.add(row.day)
                scan._refuse_future(row, mutual, today)
            elif earlier[1] == said:
                scan.copies[key] = scan.copies.get(key, 1) + 1
                scan.repeats += 1
            elif len(clashes) < MAX_PROBLEMS:
                clashes.append((row, earlier[0]))
            else:
                problems.more += 1
        _explain_clashes(source, provider, mutual.country, problems, clashes)
        problems.raise_if_any()
        if not scan.firsts:
            raise ImportErrors(["file: no statement line"])
        return scan

    def _refuse_future(self, row: StatementRow, mutual: Mutual, today: dt.date) -> None:
        """A line dated after the mutual's today would credit money on a day still to come (a
        lost callback is applied as of its line): refused, as the payments import refuses it.
        Reported only when nothing else is wrong."""
        if local_date(row.occurred_at, mutual.timezone) > today:
            when = row.occurred_at.strftime("%Y-%m-%d %H:%M:%S")
            column = self.layout.columns["occurred_at"]
            self.future.add(row.line, column, f"{when} is in the future (today is {today})")

    def is_first(self, row: StatementRow) -> bool:
        return self.first[_key(row.natural_key)][0] == row.line


def _explain_clashes(
    source: StatementSource,
    provider: str,
    country: str,
    problems: Problems,
    clashes: list[tuple[StatementRow, int]],
) -> None:
    """Reads again the earlier lines that clashing lines contradict, to say what differs."""
    if not clashes:
        return
    wanted = {line for _, line in clashes}
    earlier: dict[int, StatementRow] = {}
    layout, rows = source.rows(provider, country, Problems(cap=0))
    for row in rows:
        if row.line in wanted:
            earlier[row.line] = row
    for row, line in clashes:
        problems.add(row.line, *conflict_in_file(layout, row, earlier[line]))


def _firsts_in_chunks(scan: Scan, source: StatementSource) -> Iterator[list[StatementRow]]:
    """The first line of each natural key, `_CHUNK` at a time, in file order."""
    chunk: list[StatementRow] = []
    _, rows = source.rows(scan.provider, scan.country, Problems(cap=0))
    for row in rows:
        if scan.is_first(row):
            chunk.append(row)
            if len(chunk) == _CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _check_conflicts(
    session: Session, scan: Scan, source: StatementSource, mutual: Mutual, provider: str
) -> int:
    """A line already imported from another file with other details is a conflict; the same
    line again is skipped. Returns how many are skipped."""
    problems, skipped = Problems(cap=MAX_PROBLEMS), 0
    for rows in _firsts_in_chunks(scan, source):
        existing = _existing(session, mutual.id, provider, [r.natural_key for r in rows])
        for row in rows:
            old = existing.get(row.natural_key)
            if old is None:
                continue
            skipped += 1
            if not row.same_as(old):
                problems.add(
                    row.line,
                    "provider_txn_id",
                    f"{row.provider_txn_id!r} already imported with other details "
                    f"({'; '.join(row.differences(old))})",
                )
    problems.raise_if_any()
    return skipped


def _write(session: Session, record: StatementFile, scan: Scan, source: StatementSource) -> None:
    """The new lines in chunks, their day totals, then the repeats."""
    added = False
    for rows in _firsts_in_chunks(scan, source):
        keys = [r.natural_key for r in rows]
        existing = _existing(session, record.mutual_id, record.provider, keys)
        fresh = [_values(record, row) for row in rows if row.natural_key not in existing]
        if fresh:
            session.execute(insert(StatementLine), fresh)
            added = True
    if added:
        total_days(session, record.id)
    if scan.repeats:
        _keep_repeats(session, record, scan, source)


def _keep_repeats(
    session: Session, record: StatementFile, scan: Scan, source: StatementSource
) -> None:
    """One row per extra copy of a natural key: a copy an earlier file already showed (an
    overlapping export repeating the same line) adds none."""
    copies: dict[int, int] = {}
    chunk: list[Repeat] = []
    _, rows = source.rows(scan.provider, scan.country, Problems(cap=0))
    for row in rows:
        key = _key(row.natural_key)
        if key not in scan.copies or scan.is_first(row):
            continue
        copies[key] = copies.get(key, 1) + 1
        chunk.append(Repeat(row, scan.first[key][0], copies[key]))
        if len(chunk) == _CHUNK:
            _insert_repeats(session, record, chunk)
            chunk = []
    if chunk:
        _insert_repeats(session, record, chunk)


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
