"""The members import's staging table (issue 15: a register of any size in bounded memory):
every data row of the file, checked one by one, is written here in chunks, then the cross-row
rules (`members_checks`) and the upsert (`members_upsert`) read it back in SQL or in keyed
chunks. A TEMPORARY table on both SQLite and PostgreSQL: private to the session's connection,
created inside the import's transaction and dropped before it ends (on error too)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import Cells
from gateway.lib.phones import digits_of
from gateway.lib.staging import ChunkWriter, index_loaded, temporary
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


def staged(session: Session) -> AbstractContextManager[None]:
    """The staging tables, empty, for the span of a `with` block (dropped after it)."""
    return temporary(session, *TABLES)


def finish_loading(session: Session) -> None:
    index_loaded(session, STAGE, _INDEXES)


class StageWriter(ChunkWriter):
    """Stages a checked row (`row` None: the line has a problem)."""

    def __init__(self, session: Session, chunk: int) -> None:
        super().__init__(session, STAGE, chunk)

    def stage(self, line: int, cells: Cells, row: MemberRow | None) -> None:
        self.add(_staged(line, cells, row))


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
