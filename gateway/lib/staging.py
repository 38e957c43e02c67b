"""What the streamed CSV imports (members, payments) share (issue 15: any size of file in
bounded memory): TEMPORARY staging tables living for one import, a writer that fills them
`chunk` rows at a time, and rules run as SQL whose problems are read in line order with a cap.

A temporary table is private to the session's connection on SQLite and PostgreSQL alike; it is
created inside the import's transaction and dropped before the import returns (on error too)."""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Row, Table, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import ImportErrors, Problems


@contextmanager
def temporary(session: Session, *tables: Table) -> Iterator[None]:
    """The tables, empty, for the span of the block; dropped after it, whatever happens (a
    failed PostgreSQL transaction discards them with its rollback)."""
    _drop(session, tables)
    for table in tables:
        table.create(session.connection())
    try:
        yield
    finally:
        with suppress(SQLAlchemyError):  # a failed transaction: its rollback drops them
            _drop(session, tables)


def _drop(session: Session, tables: tuple[Table, ...]) -> None:
    for table in tables:
        session.execute(text(f"DROP TABLE IF EXISTS {table.name}"))


def index_loaded(session: Session, table: Table, indexes: dict[str, str]) -> None:
    """Index the loaded rows (faster after the load than during it; `indexes`: name suffix ->
    columns) and, on PostgreSQL, give the planner the table's statistics (temporary tables
    are never auto-analysed)."""
    for name, columns in indexes.items():
        session.execute(text(f"CREATE INDEX {table.name}_{name} ON {table.name} ({columns})"))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {table.name}"))


class ChunkWriter:
    """Buffers rows (dicts with every column) and writes them `chunk` at a time, as the
    driver's own executemany of plain tuples (SQLAlchemy's per-value processing was most of
    the import's cost)."""

    def __init__(self, session: Session, table: Table, chunk: int) -> None:
        self.session, self.chunk = session, chunk
        self.buffer: list[tuple[Any, ...]] = []
        self.names = [column.name for column in table.columns]
        sqlite = session.get_bind().dialect.name == "sqlite"
        dates = {column.name for column in table.columns if isinstance(column.type, Date)}
        self.dates = dates if sqlite else set()  # pysqlite's date adapter is deprecated
        mark = "?" if sqlite else "%s"
        marks = ", ".join([mark] * len(self.names))
        self.statement = f"INSERT INTO {table.name} ({', '.join(self.names)}) VALUES ({marks})"

    def add(self, values: dict[str, Any]) -> None:
        for name in self.dates:
            values[name] = _iso(values[name])
        self.buffer.append(tuple(values[name] for name in self.names))
        if len(self.buffer) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.session.connection().exec_driver_sql(self.statement, self.buffer)
            self.buffer = []


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


Say = Callable[[Row[Any]], tuple[str, str]]  # a result row -> (column, reason)


@dataclass(frozen=True)
class Rule:
    """A query whose rows are problems; each row starts with its `line` and `sub` (the order
    of two problems of one rule on one line); `say` words one."""

    sql: str
    say: Say


@dataclass(order=True)
class Found:
    line: int
    phase: int
    sub: int
    seq: int
    text: str


class Checker:
    """Runs rules with a cap, and merges their problems in (line, phase) order: at most `cap`
    rows are read from each rule and the rest only counted, so a huge bad file reports in
    bounded memory."""

    def __init__(self, session: Session, params: dict[str, Any], cap: int) -> None:
        self.session, self.params, self.cap = session, {**params, "cap": cap}, cap
        self.found: list[Found] = []
        self.total = 0

    def run(self, phase: int, rule: Rule, *, listed: bool = True) -> list[Row[Any]]:
        """The rule's first `cap` rows in line order (listed as problems unless `listed` is
        False: the caller words them)."""
        query = f"SELECT * FROM ({rule.sql}) q ORDER BY line, sub LIMIT :cap"
        rows = list(self.session.execute(text(query), self.params))
        self.total += len(rows)
        if len(rows) >= self.cap:
            counted = self.session.scalar(text(f"SELECT COUNT(*) FROM ({rule.sql}) q"), self.params)
            self.total += int(counted or 0) - len(rows)
        for row in rows if listed else ():
            column, reason = rule.say(row)
            self.add(phase, row.line, row.sub, f"line {row.line}: {column}: {reason}")
        return rows

    def add(self, phase: int, line: int, sub: int, message: str) -> None:
        self.found.append(Found(line, phase, sub, len(self.found), message))

    def add_problems(self, phase: int, problems: Problems) -> None:
        """Problems found row by row (already in line order, capped)."""
        for message in problems:
            self.add(phase, int(message.split(":", 1)[0].removeprefix("line ")), 0, message)
        self.total += problems.total

    def listed(self) -> list[str]:
        """The first `cap` problems in line order, then how many more there are."""
        kept = [found.text for found in heapq.nsmallest(self.cap, self.found)]
        if self.total > len(kept):
            kept.append(f"... and {self.total - len(kept)} more problem(s)")
        return kept

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportErrors(self.listed(), self.total)
