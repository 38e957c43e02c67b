"""The USSD sessions of a window (console.md, issue 16): hops grouped by session, with the
aggregator's end-of-session status, filtered by mutual, status and errors, keyset-paged on
(first hop's time, first hop's id). The window (default: the last 24 hours) bounds every
query on the hops' time index; drop-off per screen comes from gateway.services.ussd_audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, inspect, or_, select, tuple_
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.util import ClauseAdapter

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


def _hop_conditions(
    scope: Scope, filters: Filters, hop: Any = UssdHop
) -> list[ColumnElement[bool]]:
    """The hops the page groups: the window's, inside the scope and the mutual filter; `hop`
    an alias of UssdHop to state them on another copy of the table."""
    found = [
        UssdHop.created_at >= filters.since,
        UssdHop.created_at < filters.until,
        scope.condition(UssdHop),
    ]
    if filters.mutual_id is not None:
        found.append(UssdHop.mutual_id == filters.mutual_id)
    if hop is UssdHop:
        return found
    adapter = ClauseAdapter(inspect(hop).selectable)
    return [adapter.traverse(condition) for condition in found]


def sessions_page(
    session: Session, scope: Scope, filters: Filters, cursor: str | None, size: int = PAGE_SIZE
) -> SessionsPage:
    """One page of the window's sessions, newest first (BadCursor on a foreign cursor).

    A session is listed at its first hop of the window. The page walks the window's hops
    newest first on the time index (the mutual's (mutual_id, created_at, id) index for a
    mutual's operator) and keeps a hop when no earlier hop of its session is in the window
    (one probe of the session_id index), until it has a page: its cost is the page's, not
    the window's (grouping a whole day of a national deployment's hops took seconds). The
    page's sessions are then counted in one grouped query on their ids."""
    firsts = _first_hops(scope, filters)
    if cursor:
        at, last = decode_cursor(cursor)
        firsts = firsts.where(tuple_(UssdHop.created_at, UssdHop.id) < tuple_(at, last))
    ordered = firsts.order_by(UssdHop.created_at.desc(), UssdHop.id.desc()).limit(size + 1)
    rows = session.execute(ordered).all()
    more = len(rows) > size
    rows = rows[:size]
    counted = _counted(session, scope, filters, [(r.provider, r.session_id) for r in rows])
    screens = _screens(session, [c.last_id for c in counted.values()])
    items = []
    for r in rows:
        c = counted[(r.provider, r.session_id)]
        items.append(
            SessionRow(
                r.provider,
                r.session_id,
                r.created_at,
                int(c.hops),
                c.phone,
                c.code,
                c.mutual_id,
                r.status or OPEN,
                r.error_message,
                int(c.apologies or 0),
                screens.get(c.last_id, ""),
            )
        )
    following = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return SessionsPage(items, following)


def _first_hops(scope: Scope, filters: Filters) -> Select[Any]:
    """Each session's first hop of the window with its end notification, filtered."""
    earlier = aliased(UssdHop, name="earlier")
    first = ~exists().where(
        earlier.session_id == UssdHop.session_id,
        earlier.provider == UssdHop.provider,
        tuple_(earlier.created_at, earlier.id) < tuple_(UssdHop.created_at, UssdHop.id),
        *_hop_conditions(scope, filters, earlier),
    )
    event = UssdSessionEvent
    query = (
        select(UssdHop.provider, UssdHop.session_id, UssdHop.created_at, UssdHop.id)
        .add_columns(event.status, event.error_message)
        .outerjoin(
            event, and_(event.provider == UssdHop.provider, event.session_id == UssdHop.session_id)
        )
        .where(*_hop_conditions(scope, filters), first)
    )
    if filters.status == OPEN:
        query = query.where(event.id.is_(None))
    elif filters.status:
        query = query.where(event.status == filters.status)
    if filters.errors:
        apology = aliased(UssdHop, name="apology")
        apologised = exists().where(
            apology.session_id == UssdHop.session_id,
            apology.provider == UssdHop.provider,
            apology.screen == APOLOGY,
            *_hop_conditions(scope, filters, apology),
        )
        failed = or_(event.status == "Failed", event.error_message.is_not(None))
        query = query.where(or_(failed, apologised))
    return query


def _counted(
    session: Session, scope: Scope, filters: Filters, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The page's sessions' hops of the window, counted: one grouped query by their ids."""
    if not pairs:
        return {}
    apology = func.sum(case((UssdHop.screen == APOLOGY, 1), else_=0))
    query = (
        select(
            UssdHop.provider,
            UssdHop.session_id,
            func.max(UssdHop.id).label("last_id"),
            func.count().label("hops"),
            func.max(UssdHop.mutual_id).label("mutual_id"),
            func.max(UssdHop.phone_masked).label("phone"),
            func.max(UssdHop.service_code).label("code"),
            apology.label("apologies"),
        )
        .where(
            UssdHop.session_id.in_(sorted({sid for _, sid in pairs})),
            tuple_(UssdHop.provider, UssdHop.session_id).in_(pairs),
            *_hop_conditions(scope, filters),
        )
        .group_by(UssdHop.provider, UssdHop.session_id)
    )
    return {(r.provider, r.session_id): r for r in session.execute(query)}


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
