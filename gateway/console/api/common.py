"""Helpers of the API views: query parameters (ISO 8601 dates, a mutual's code, the cursor) and
the list envelope `{"items": [...], "next": cursor | null}`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Response, abort, jsonify, request
from sqlalchemy import select

from gateway.console.paging import PAGE_SIZE, BadCursor
from gateway.models import Mutual

R = TypeVar("R")
MAX_LIMIT = 200


def iso(moment: dt.date | dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def day_arg(name: str) -> dt.date | None:
    """An ISO 8601 date query parameter (400 if malformed)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, f"{name} is an ISO 8601 date (YYYY-MM-DD), not {raw!r}")


def limit_arg() -> int:
    raw = request.args.get("limit", str(PAGE_SIZE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        abort(400, f"limit is an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def mutual_filter(column: Any) -> Any | None:
    """`?mutual=CODE` as a condition on `column` (a mutual id column), or None."""
    code = request.args.get("mutual")
    if not code:
        return None
    return column.in_(select(Mutual.id).where(Mutual.code == code))


def paged(read: Callable[[str | None], Any], render: Callable[[R], dict[str, Any]]) -> Response:
    """Run `read(cursor)` (a keyset page) and answer the list envelope (400: a bad cursor)."""
    try:
        page = read(request.args.get("cursor") or None)
    except BadCursor:
        abort(400, "this cursor was not written by this API")
    items: Sequence[R] = page.items
    return jsonify({"items": [render(item) for item in items], "next": page.next})
