"""`GET /api/v1/campaigns` (console.md "JSON API", issue 17): the campaigns of the token's scope
(D14-D17) as the console's /console/campaigns page lists them, newest first by id, with the
reminders sent so far. Campaigns carry no section: a section's token sees none (scope.py)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, abort, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from gateway.console.api.common import iso, limit_arg, mutual_filter
from gateway.console.views import api_view, scoped
from gateway.handlers import request_session
from gateway.models import Campaign, ReminderOccurrence

STATES = ("open", "paused")


def id_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"id|{row_id}".encode()).decode().rstrip("=")


def after_id(cursor: str | None) -> int | None:
    """The id of an `id_cursor` (400: a cursor this API did not write)."""
    if not cursor:
        return None
    try:
        kind, _, raw = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        )
        if kind != "id" or not raw.isdigit():
            raise ValueError(cursor)
        return int(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        abort(400, "this cursor was not written by this API")


@api_view("/campaigns")
def campaigns() -> Response:
    """Filters: mutual (code), state (open: running; paused), limit, cursor."""
    query = scoped(select(Campaign), Campaign).options(joinedload(Campaign.mutual))
    in_mutual = mutual_filter(Campaign.mutual_id)
    if in_mutual is not None:
        query = query.where(in_mutual)
    state = request.args.get("state")
    if state == "open":
        query = query.where(Campaign.paused_at.is_(None))
    elif state == "paused":
        query = query.where(Campaign.paused_at.is_not(None))
    elif state:
        abort(400, f"state is one of {', '.join(STATES)}")
    last = after_id(request.args.get("cursor"))
    if last is not None:
        query = query.where(Campaign.id < last)
    size = limit_arg()
    rows = list(request_session().scalars(query.order_by(Campaign.id.desc()).limit(size + 1)))
    more, rows = len(rows) > size, rows[:size]
    sent = _sent([c.id for c in rows])
    return jsonify(
        {
            "items": [_campaign(c, sent.get(c.id, 0)) for c in rows],
            "next": id_cursor(rows[-1].id) if more else None,
        }
    )


def _sent(ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = (
        select(ReminderOccurrence.campaign_id, func.count())
        .where(ReminderOccurrence.campaign_id.in_(ids), ReminderOccurrence.status == "sent")
        .group_by(ReminderOccurrence.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in request_session().execute(query)}


def _campaign(row: Campaign, sent: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "mutual": row.mutual.code,
        "code": row.code,
        "name": row.name,
        "opens_on": iso(row.opens_on),
        "closes_on": iso(row.closes_on),
        "for_period": iso(row.for_period),
        "sections": list(row.sections),
        "budget": row.budget,
        "paused_at": iso(row.paused_at),
        "paused_reason": row.paused_reason,
        "reminders_sent": sent,
    }
