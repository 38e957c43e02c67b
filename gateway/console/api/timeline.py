"""`GET /api/v1/households/<number>/timeline` (console.md "JSON API", issue 17): the household's
ONE timeline, the same merged, keyset-paged one as the console's household page
(gateway.console.timeline), newest first. Each item is `{kind, at, id, data}`; `data` holds the
source's fields a client needs, phones masked and PINs never (D27), amounts in whole XOF (D2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, abort, jsonify, request
from sqlalchemy import select

from gateway.console.api.common import iso, limit_arg
from gateway.console.api.households import READERS, household_in_scope
from gateway.console.timeline import BadCursor, Item, Posting, timeline_page
from gateway.console.views import api_view
from gateway.handlers import request_session, runtime
from gateway.lib.phones import mask_msisdn
from gateway.models import HouseholdPhone

KINDS = (
    "session",
    "session_end",
    "sms",
    "intent",
    "payment",
    "reminder",
    "cash",
    "action",
    "household_event",
)


@api_view("/households/<number>/timeline", roles=READERS)
def household_timeline(number: str) -> Response:
    """One page of the timeline (`?cursor=` from the previous page's `next`, `?limit=`)."""
    found = household_in_scope(number)
    db = request_session()
    phones = db.scalars(
        select(HouseholdPhone.msisdn).where(HouseholdPhone.household_id == found.id)
    )
    size = limit_arg()
    try:
        page = timeline_page(
            db,
            found,
            list(phones),
            runtime().settings.secret_key,
            request.args.get("cursor") or None,
            size,
        )
    except BadCursor:
        abort(400, "this cursor was not written by this API")
    return jsonify({"items": [_item(item) for item in page.items], "next": page.next})


def _item(item: Item) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "at": iso(item.at),
        "id": item.row_id,
        "data": RENDER[item.kind](item),
    }


def _session(item: Item) -> dict[str, Any]:
    first = item.row
    return {
        "provider": first.provider,
        "session_id": first.session_id,
        "phone": first.phone_masked,
        "service_code": first.service_code,
        "screens": [hop.screen for hop in item.details],
        "hops": len(item.details),
    }


def _session_end(item: Item) -> dict[str, Any]:
    row = item.row
    return {
        "provider": row.provider,
        "session_id": row.session_id,
        "phone": row.phone_masked,
        "status": row.status,
        "error": row.error_message,
        "hops": row.hops_count,
    }


def _sms(item: Item) -> dict[str, Any]:
    row = item.row
    return {
        "phone": mask_msisdn(row.phone),
        "template": row.template,
        "status": str(row.status),
        "text": row.text,
        "sent_at": iso(row.sent_at),
    }


def _postings(details: list[Any]) -> list[dict[str, Any]]:
    return [
        {"transaction": p.kind, "account": p.account, "amount": p.amount}
        for p in details
        if isinstance(p, Posting)
    ]


def _intent(item: Item) -> dict[str, Any]:
    row = item.row
    events = [d for d in item.details if not isinstance(d, Posting)]
    return {
        "provider": row.provider,
        "amount": row.amount,
        "state": str(row.state),
        "flag": str(row.flag) if row.flag else None,
        "phone": mask_msisdn(row.msisdn),
        "events": [
            {"state": e.state, "source": e.source, "at": iso(e.received_at)} for e in events
        ],
        "postings": _postings(item.details),
    }


def _payment(item: Item) -> dict[str, Any]:
    row = item.row
    return {
        "amount": row.amount,
        "paid_on": iso(row.paid_on),
        "channel": row.channel,
        "reference": row.reference,
        "postings": _postings(item.details),
    }


def _reminder(item: Item) -> dict[str, Any]:
    row = item.row
    return {"campaign_id": row.campaign_id, "status": row.status, "due_at": iso(row.due_at)}


def _cash(item: Item) -> dict[str, Any]:
    row = item.row
    return {"agent_id": row.agent_id, "amount": row.amount, "receipt_code": row.receipt_code}


def _action(item: Item) -> dict[str, Any]:
    row = item.row
    return {"action": row.action, "user_id": row.user_id, "reason": row.reason}


def _household_event(item: Item) -> dict[str, Any]:
    row = item.row
    return {
        "type": row.type,
        "effective_on": iso(row.effective_on),
        "reason": row.reason,
        "recorded_by": row.recorded_by,
    }


RENDER: dict[str, Callable[[Item], dict[str, Any]]] = {
    "session": _session,
    "session_end": _session_end,
    "sms": _sms,
    "intent": _intent,
    "payment": _payment,
    "reminder": _reminder,
    "cash": _cash,
    "action": _action,
    "household_event": _household_event,
}
