"""Keyset pagination for every console list (console.md): newest first on (occurred_at, id),
the cursor is the last row's pair, so page N costs what page 1 costs (an index range scan on
the pair) and nothing ever counts the table. A working list read oldest first (the pending
enrolments) pages on its id alone (`id_page`)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, TypeVarTuple

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

Ts = TypeVarTuple("Ts")
R = TypeVar("R")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[R]):
    items: Sequence[R]
    next: str | None  # the cursor of the following page, None on the last


class BadCursor(ValueError):
    """A cursor this code did not write."""


def encode_cursor(at: dt.datetime, row_id: int) -> str:
    raw = f"{at.astimezone(dt.UTC).isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, row_id = raw.partition("|")
        moment = dt.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError(at)
        return moment, int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadCursor(cursor) from exc


def keyset_page(
    session: Session,
    query: Select[*Ts],
    at: InstrumentedAttribute[dt.datetime],
    row_id: InstrumentedAttribute[int],
    cursor: str | None,
    size: int = PAGE_SIZE,
) -> Page[R]:
    """One page of `query`'s entities, newest first, after `cursor` (None: the first page).
    Reads size + 1 rows to know whether a next page exists."""
    if cursor:
        moment, last = decode_cursor(cursor)
        query = query.where(tuple_(at, row_id) < tuple_(moment, last))
    rows = list(session.scalars(query.order_by(at.desc(), row_id.desc()).limit(size + 1)))
    items = rows[:size]
    more = len(rows) > size
    return Page(
        items, encode_cursor(_get(items[-1], at), _get(items[-1], row_id)) if more else None
    )


def _get(row: Any, column: InstrumentedAttribute[Any]) -> Any:
    return getattr(row, column.key)


def id_page(
    session: Session,
    query: Select[*Ts],
    row_id: InstrumentedAttribute[int],
    cursor: str | None,
    size: int = PAGE_SIZE,
) -> Page[R]:
    """One page of `query`'s entities in id order (oldest first: a working list such as the
    pending enrolments), after `cursor` (the last id of the page before; None: the first)."""
    if cursor:
        if not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
            raise BadCursor(cursor)
        query = query.where(row_id > int(cursor))
    rows = list(session.scalars(query.order_by(row_id).limit(size + 1)))
    items = rows[:size]
    return Page(items, str(_get(items[-1], row_id)) if len(rows) > size else None)
