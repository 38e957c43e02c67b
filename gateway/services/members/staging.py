"""The members import's staging table (issue 15: a register of any size in bounded memory):
every data row of the file, checked one by one, is written here in chunks, then the cross-row
rules (`members_checks`) and the upsert (`members_upsert`) read it back in SQL or in keyed
chunks. A TEMPORARY table on both SQLite and PostgreSQL: private to the session's connection,
created inside the import's transaction and dropped before it ends (on error too)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import Cells
from gateway.lib.phones import digits_of
from gateway.services.members.rows import HOME_COLUMNS, MemberRow

_meta = MetaData()

# One row per data line of the file; `ok` False: the line has a problem, only its raw numbers
# are kept (a duplicate member number, a household "tainted" by a bad line).
STAGE = Table(
    "members_import_rows",
    _meta,
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("ok", Boolean, nullable=False),
    Column("household", String),  # the cells as given (stripped)
    Column("number", String),
    Column("is_head", Boolean),
    Column("h_digits", String),
    Column("m_digits", String),
    Column("full_name", String),
    Column("sex", String),
    Column("birth_date", Date),
    Column("relation", String),
    Column("status", String),
    Column("enrolled_on", Date),
    Column("left_on", Date),
    Column("phones", String),  # E.164, `;`-separated, in the cell's order
    Column("category", String),
    Column("language", String),
    Column("section_id", Integer),
    Column("product_id", Integer),
    *(Column(f"raw_{name}", String) for name in HOME_COLUMNS),
    prefixes=["TEMPORARY"],
)
# Households whose shares may change (D7), by id, for the allocation after the writes.
TOUCHED = Table(
    "members_import_touched",
    _meta,
    Column("household_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
_INDEXES = {  # created once the rows are loaded (not bound to the table: created after it)
    "number": "number",
    "household": "household, line",
    "h_digits": "h_digits",
    "m_digits": "m_digits",
}
TABLES = (STAGE, TOUCHED)


@contextmanager
def staged(session: Session) -> Iterator[None]:
    """The staging tables, empty, for the span of the block; dropped after it, whatever
    happens (a failed PostgreSQL transaction discards them with its rollback)."""
    _drop(session)
    for table in TABLES:
        table.create(session.connection())
    try:
        yield
    finally:
        with suppress(SQLAlchemyError):  # a failed transaction: its rollback drops them
            _drop(session)


def _drop(session: Session) -> None:
    for table in TABLES:
        session.execute(text(f"DROP TABLE IF EXISTS {table.name}"))


def finish_loading(session: Session) -> None:
    """Index the loaded rows (faster after the load than during it) and, on PostgreSQL, give
    the planner the table's statistics (temporary tables are never auto-analysed)."""
    for name, columns in _INDEXES.items():
        session.execute(text(f"CREATE INDEX {STAGE.name}_{name} ON {STAGE.name} ({columns})"))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {STAGE.name}"))


class StageWriter:
    """Buffers staged rows and writes them `chunk` at a time, as the driver's own executemany
    of plain tuples (SQLAlchemy's per-value processing was most of the import's cost)."""

    def __init__(self, session: Session, chunk: int) -> None:
        self.session, self.chunk = session, chunk
        self.buffer: list[tuple[Any, ...]] = []
        sqlite = session.get_bind().dialect.name == "sqlite"
        self.day = _iso if sqlite else _same  # pysqlite's date adapter is deprecated
        mark = "?" if sqlite else "%s"
        names = ", ".join(column.name for column in STAGE.columns)
        marks = ", ".join([mark] * len(STAGE.columns))
        self.statement = f"INSERT INTO {STAGE.name} ({names}) VALUES ({marks})"

    def add(self, line: int, cells: Cells, row: MemberRow | None) -> None:
        values = _staged(line, cells, row)
        for name in _DATES:
            values[name] = self.day(values[name])
        self.buffer.append(tuple(values[column.name] for column in STAGE.columns))
        if len(self.buffer) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.session.connection().exec_driver_sql(self.statement, self.buffer)
            self.buffer = []


_DATES = ("birth_date", "enrolled_on", "left_on")


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _same(day: dt.date | None) -> dt.date | None:
    return day


_EMPTY: dict[str, Any] = {column.name: None for column in STAGE.columns}


def _staged(line: int, cells: Cells, row: MemberRow | None) -> dict[str, Any]:
    values: dict[str, Any] = {**_EMPTY, "line": line, "ok": row is not None}
    values.update(household=cells["household_number"], number=cells["member_number"])
    if row is None:
        return values
    values.update(row.ben, **row.home)
    values["is_head"] = row.ben["relation"] == "head"
    values["h_digits"], values["m_digits"] = digits_of(row.household), digits_of(row.number)
    values["phones"] = ";".join(row.phones)
    values.update(
        (f"raw_{name}", raw) for name, raw in zip(HOME_COLUMNS, row.raw_home, strict=True)
    )
    return values
