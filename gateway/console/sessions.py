"""The USSD sessions of a window (console.md, issue 16): hops grouped by session, with the
aggregator's end-of-session status, filtered by mutual, status and errors, keyset-paged on
(first hop's time, first hop's id). The window (default: the last 24 hours) bounds every
query on the hops' time index; drop-off per screen comes from gateway.services.ussd_audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from gateway.console.paging import PAGE_SIZE, decode_cursor, encode_cursor
from gateway.console.scope import Scope
from gateway.models import UssdHop, UssdSessionEvent
from gateway.services.ussd_audit import dropoff_by_screen

OPEN = "open"  # no end-of-session notification (yet)
STATUSES = ("Success", "Incomplete", "Failed", OPEN)
APOLOGY = "apology"  # the screen of a hop the gateway could not serve


@dataclass(frozen=True)
class Filters:
    since: dt.datetime
    until: dt.datetime
    mutual_id: int | None = None
    status: str | None = None
    errors: bool = False


@dataclass(frozen=True)
class SessionRow:
    provider: str
    session_id: str
    started_at: dt.datetime
    hops: int
    phone_masked: str
    service_code: str
    mutual_id: int | None
    status: str  # an end status, or OPEN
    error: str | None
    apologies: int
    last_screen: str


@dataclass(frozen=True)
class SessionsPage:
    items: Sequence[SessionRow]
    next: str | None


def _hop_conditions(scope: Scope, filters: Filters) -> list[ColumnElement[bool]]:
    found = [
        UssdHop.created_at >= filters.since,
        UssdHop.created_at < filters.until,
        scope.condition(UssdHop),
    ]
    if filters.mutual_id is not None:
        found.append(UssdHop.mutual_id == filters.mutual_id)
    return found


def sessions_page(
    session: Session, scope: Scope, filters: Filters, cursor: str | None, size: int = PAGE_SIZE
) -> SessionsPage:
    """One page of the window's sessions, newest first (BadCursor on a foreign cursor)."""
    apology = func.sum(case((UssdHop.screen == APOLOGY, 1), else_=0))
    grouped = (
        select(
            UssdHop.provider,
            UssdHop.session_id,
            func.min(UssdHop.created_at).label("at"),
            func.min(UssdHop.id).label("first_id"),
            func.max(UssdHop.id).label("last_id"),
            func.count().label("hops"),
            func.max(UssdHop.mutual_id).label("mutual_id"),
            func.max(UssdHop.phone_masked).label("phone"),
            func.max(UssdHop.service_code).label("code"),
            apology.label("apologies"),
        )
        .where(*_hop_conditions(scope, filters))
        .group_by(UssdHop.provider, UssdHop.session_id)
        .subquery()
    )
    event = UssdSessionEvent
    query = select(grouped, event.status, event.error_message).outerjoin(
        event, and_(event.provider == grouped.c.provider, event.session_id == grouped.c.session_id)
    )
    if filters.status == OPEN:
        query = query.where(event.id.is_(None))
    elif filters.status:
        query = query.where(event.status == filters.status)
    if filters.errors:
        failed = or_(event.status == "Failed", event.error_message.is_not(None))
        query = query.where(or_(failed, grouped.c.apologies > 0))
    if cursor:
        at, last = decode_cursor(cursor)
        query = query.where(tuple_(grouped.c.at, grouped.c.first_id) < tuple_(at, last))
    query = query.order_by(grouped.c.at.desc(), grouped.c.first_id.desc()).limit(size + 1)
    rows = session.execute(query).all()
    more = len(rows) > size
    rows = rows[:size]
    screens = _screens(session, [r.last_id for r in rows])
    items = [
        SessionRow(
            r.provider,
            r.session_id,
            r.at,
            int(r.hops),
            r.phone,
            r.code,
            r.mutual_id,
            r.status or OPEN,
            r.error_message,
            int(r.apologies or 0),
            screens.get(r.last_id, ""),
        )
        for r in rows
    ]
    following = encode_cursor(rows[-1].at, rows[-1].first_id) if more else None
    return SessionsPage(items, following)


def _screens(session: Session, hop_ids: list[int]) -> dict[int, str]:
    if not hop_ids:
        return {}
    query = select(UssdHop.id, UssdHop.screen).where(UssdHop.id.in_(hop_ids))
    return {hop_id: screen for hop_id, screen in session.execute(query)}


def dropoff(session: Session, scope: Scope, filters: Filters) -> list[tuple[str, int]]:
    """Where the window's dropped sessions (Incomplete, Failed) left, inside the scope."""
    where = scope.condition(UssdSessionEvent)
    if filters.mutual_id is not None:
        where = and_(where, UssdSessionEvent.mutual_id == filters.mutual_id)
    return dropoff_by_screen(session, filters.since, filters.until, where)
