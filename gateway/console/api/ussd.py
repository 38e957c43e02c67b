"""`GET /api/v1/ussd/sessions` (console.md "JSON API", issue 17): the USSD sessions of a window,
with the filters of the console's /console/ussd page (mutual, from/to, status, errors only),
keyset-paged on (first hop's time, first hop's id), newest first, through the same query
(gateway.console.sessions). Phones are stored masked (D27); PINs are never stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, request
from sqlalchemy import select

from gateway.console.api.common import iso, limit_arg, paged
from gateway.console.sessions import STATUSES, Filters, SessionRow, SessionsPage, sessions_page
from gateway.console.views import api_view, current_scope, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Mutual

WINDOW = dt.timedelta(hours=24)  # as the console page: the last day by default
TRUE = ("1", "true")
FIRST_YEAR, LAST_YEAR = 2000, 2999  # a window computed from either end stays a valid date


@api_view("/ussd/sessions")
def ussd_sessions() -> Response:
    """Filters: mutual (code), from/to (ISO 8601 date or date-time, UTC), status, errors."""
    db = request_session()
    codes: dict[str, int] = {
        code: mid for code, mid in db.execute(scoped(select(Mutual.code, Mutual.id), Mutual))
    }
    filters = _filters(codes)
    size = limit_arg()

    def read(cursor: str | None) -> SessionsPage:
        return sessions_page(db, current_scope(), filters, cursor, size)

    return paged(read, _session(codes))


def _filters(codes: dict[str, int]) -> Filters:
    """The request's filters; a mutual outside the scope is a 404, as on the console page."""
    args = request.args
    until = _moment("to") or runtime().clock.now()
    since = _moment("from") or until - WINDOW
    code = args.get("mutual") or None
    if code is not None and code not in codes:
        abort(404, f"no mutual {code} in this token's scope")
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        abort(400, f"status is one of {', '.join(STATUSES)}")
    errors = args.get("errors", "")
    if errors not in ("", "0", "false", *TRUE):
        abort(400, "errors is true or false")
    return Filters(
        since=since,
        until=until,
        mutual_id=codes[code] if code else None,
        status=status,
        errors=errors in TRUE,
    )


def _moment(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        abort(400, f"{name} is an ISO 8601 date or date-time (UTC), not {raw!r}")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        abort(400, f"{name} is between {FIRST_YEAR} and {LAST_YEAR}")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _session(codes: dict[str, int]) -> Any:
    names = {mutual_id: code for code, mutual_id in codes.items()}

    def render(row: SessionRow) -> dict[str, Any]:
        return {
            "provider": row.provider,
            "session_id": row.session_id,
            "started_at": iso(row.started_at),
            "hops": row.hops,
            "phone": row.phone_masked,
            "service_code": row.service_code,
            "mutual": names.get(row.mutual_id) if row.mutual_id is not None else None,
            "status": row.status,
            "error": row.error,
            "apologies": row.apologies,
            "last_screen": row.last_screen,
        }

    return render
