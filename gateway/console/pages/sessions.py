"""`/console/ussd` (console.md, issue 16): the USSD sessions of a window (default: the last
24 hours) inside the scope, filtered by mutual, status and errors, keyset-paged, and where
the dropped ones left (drop-off per screen, D22)."""

from __future__ import annotations

import datetime as dt

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.console.paging import PAGE_SIZE, BadCursor
from gateway.console.sessions import STATUSES, Filters, dropoff, sessions_page
from gateway.console.views import console_view, current_scope, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Mutual

WINDOW = dt.timedelta(hours=24)
PAGE = PAGE_SIZE


@console_view("/ussd")
def ussd_sessions() -> ResponseReturnValue:
    db = request_session()
    mutuals = list(db.scalars(scoped(select(Mutual), Mutual).order_by(Mutual.code)))
    filters = _filters({m.code: m.id for m in mutuals})
    try:
        page = sessions_page(db, current_scope(), filters, request.args.get("after"), PAGE)
    except BadCursor:
        abort(400, "bad page cursor")
    return render_template(
        "console/ussd.html",
        page=page,
        # the window's drop-off, a count over all its dropped sessions: on the first page only
        drops=[] if request.args.get("after") else dropoff(db, current_scope(), filters),
        filters=filters,
        mutuals=mutuals,
        codes={m.id: m.code for m in mutuals},
        statuses=STATUSES,
        args={k: v for k, v in request.args.items() if k != "after"},
    )


def _filters(codes: dict[str, int]) -> Filters:
    """The request's filters; a mutual outside the scope is a 404 (as if it did not exist)."""
    args = request.args
    until = _moment(args.get("to")) or runtime().clock.now()
    since = _moment(args.get("from")) or until - WINDOW
    code = args.get("mutual") or None
    if code is not None and code not in codes:
        abort(404)
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400, "unknown status")
    return Filters(
        since=since,
        until=until,
        mutual_id=codes[code] if code else None,
        status=status,
        errors=args.get("errors") == "1",
    )


def _moment(text: str | None) -> dt.datetime | None:
    """`2026-03-02` or `2026-03-02T10:00` (UTC); anything else is a 400."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        abort(400, "dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
