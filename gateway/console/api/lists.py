"""`GET /api/v1/payments` and `GET /api/v1/sms` (issue 17): keyset-paged lists, newest first
(gateway.console.paging), inside the token's scope; amounts in whole XOF (D2), dates ISO 8601,
phones masked (D27)."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from gateway.console.api.common import day_arg, iso, limit_arg, mutual_filter, paged
from gateway.console.paging import Page, keyset_page
from gateway.console.views import ALL_ROLES, api_view, scoped
from gateway.handlers import request_session
from gateway.lib.phones import mask_msisdn
from gateway.models import Household, OutboxMessage, OutboxStatus, Payment, Role

PAYMENT_READERS = (Role.ADMIN, Role.MANAGER, Role.FINANCE)
PAYMENT_STATES = ("received", "held", "released")


def payment_state(row: Payment) -> str:
    """received (credited at once), held (waiting for an operator), released (credited
    after a hold)."""
    if row.released_at is not None:
        return "released"
    return "held" if row.hold_reason is not None else "received"


@api_view("/payments", roles=PAYMENT_READERS)
def payments() -> Response:
    """Filters: mutual (code), state, since/until (paid_on, inclusive), limit, cursor."""
    query = scoped(select(Payment), Payment).options(
        joinedload(Payment.household).joinedload(Household.mutual)
    )
    for condition in _payment_filters():
        query = query.where(condition)
    size = limit_arg()

    def read(cursor: str | None) -> Page[Payment]:
        return keyset_page(request_session(), query, Payment.created_at, Payment.id, cursor, size)

    return paged(read, _payment)


def _payment_filters() -> list[Any]:
    conditions = []
    in_mutual = mutual_filter(Payment.mutual_id)
    if in_mutual is not None:
        conditions.append(in_mutual)
    state = request.args.get("state")
    if state == "received":
        conditions.append(Payment.hold_reason.is_(None))
    elif state == "held":
        conditions += [Payment.hold_reason.is_not(None), Payment.released_at.is_(None)]
    elif state == "released":
        conditions.append(Payment.released_at.is_not(None))
    elif state:
        abort(400, f"state is one of {', '.join(PAYMENT_STATES)}")
    since, until = day_arg("since"), day_arg("until")
    if since:
        conditions.append(Payment.paid_on >= since)
    if until:
        conditions.append(Payment.paid_on <= until)
    return conditions


def _payment(row: Payment) -> dict[str, Any]:
    return {
        "id": row.id,
        "mutual": row.household.mutual.code,
        "household": row.household.number,
        "amount": row.amount,
        "paid_on": iso(row.paid_on),
        "channel": row.channel,
        "reference": row.reference,
        "state": payment_state(row),
        "hold_reason": row.hold_reason,
        "released_at": iso(row.released_at),
        "created_at": iso(row.created_at),
    }


@api_view("/sms", roles=ALL_ROLES)
def sms() -> Response:
    """The SMS outbox: filters mutual (code), status, limit, cursor; phones masked."""
    query = scoped(select(OutboxMessage), OutboxMessage)
    in_mutual = mutual_filter(OutboxMessage.mutual_id)
    if in_mutual is not None:
        query = query.where(in_mutual)
    status = request.args.get("status")
    if status:
        if status not in {s.value for s in OutboxStatus}:
            abort(400, f"status is one of {', '.join(s.value for s in OutboxStatus)}")
        query = query.where(OutboxMessage.status == OutboxStatus(status))
    size = limit_arg()

    def read(cursor: str | None) -> Page[OutboxMessage]:
        return keyset_page(
            request_session(), query, OutboxMessage.created_at, OutboxMessage.id, cursor, size
        )

    return paged(read, _sms)


def _sms(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "mutual_id": row.mutual_id,
        "household_id": row.household_id,
        "phone": mask_msisdn(row.phone),
        "template": row.template,
        "language": row.language,
        "reason": row.reason,
        "status": str(row.status),
        "attempts": row.attempts,
        "text": row.text,
        "created_at": iso(row.created_at),
        "sent_at": iso(row.sent_at),
    }
