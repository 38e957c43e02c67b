"""Reconciliation exceptions in the JSON API (console.md "JSON API", payments.md
"Reconciliation", issue 17): `GET reconciliation/exceptions` (suspense lines of the token's
scope, keyset-paged on (created_at, id), newest first) and the writes `POST
reconciliation/exceptions/<id>/assign` and `/ignore`.

The writes go through gateway.services.reconciliation, the same functions as the console page
and `gateway reconcile assign|ignore`, with the token as `--by` (`token:NAME`), in one
transaction with exactly one `operator_actions` row. A reason is required, as the console asks.
Maker-checker (payments.md): an assignment above the mutual's approval threshold waits
PENDING for a second, different person or token to approve it on the console or the CLI."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, abort, jsonify, request
from sqlalchemy import select

from gateway.console.api.common import day_arg, iso, limit_arg, mutual_filter, paged
from gateway.console.api.writes import api_actor, api_by, json_body, text_field, token_name
from gateway.console.paging import Page, keyset_page
from gateway.console.views import api_view, get_or_404, scoped
from gateway.handlers import request_session, runtime
from gateway.lib.phones import mask_msisdn
from gateway.models import ActionState, Household, Mutual, Role, SuspenseItem, SuspenseState
from gateway.services import reconciliation
from gateway.services.operators import Where, record_action
from gateway.services.reconciliation import ReconcileError

READERS = (Role.ADMIN, Role.MANAGER, Role.FINANCE)
WRITERS = (Role.MANAGER, Role.FINANCE)  # payments.md: people who resolve exceptions
STATES = (*(s.value for s in SuspenseState), "all")
REASON_LENGTH = 500
NUMBER_LENGTH = 40


@api_view("/reconciliation/exceptions", roles=READERS)
def exceptions() -> Response:
    """Filters: mutual (code), state (default OPEN; `all`), provider, since/until (the day the
    money was received, inclusive), limit, cursor."""
    query = scoped(select(SuspenseItem), SuspenseItem)
    state = request.args.get("state", "OPEN")
    if state not in STATES:
        abort(400, f"state is one of {', '.join(STATES)}")
    if state != "all":
        query = query.where(SuspenseItem.state == SuspenseState(state))
    in_mutual = mutual_filter(SuspenseItem.mutual_id)
    if in_mutual is not None:
        query = query.where(in_mutual)
    provider = request.args.get("provider")
    if provider:
        query = query.where(SuspenseItem.provider == provider)
    since, until = day_arg("since"), day_arg("until")
    if since:
        query = query.where(SuspenseItem.received_on >= since)
    if until:
        query = query.where(SuspenseItem.received_on <= until)
    size = limit_arg()
    db = request_session()
    codes: dict[int, str] = {mid: code for mid, code in db.execute(select(Mutual.id, Mutual.code))}

    def read(cursor: str | None) -> Page[SuspenseItem]:
        return keyset_page(db, query, SuspenseItem.created_at, SuspenseItem.id, cursor, size)

    def render(row: SuspenseItem) -> dict[str, Any]:
        return exception(row, codes)

    return paged(read, render)


def exception(row: SuspenseItem, codes: dict[int, str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "mutual": codes.get(row.mutual_id) if row.mutual_id is not None else None,
        "provider": row.provider,
        "provider_txn_id": row.provider_txn_id,
        "reference": row.reference,
        "phone": mask_msisdn(row.msisdn) if row.msisdn else None,
        "amount": row.amount,
        "received_on": iso(row.received_on),
        "reason": row.reason,
        "state": str(row.state),
        "created_at": iso(row.created_at),
        "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by,
        "note": row.note,
    }


def _where(item: SuspenseItem, household: Household | None = None) -> Where:
    return Where(mutual_id=item.mutual_id, section_id=household.section_id if household else None)


def _household_in_scope(item: SuspenseItem, number: str) -> Household:
    """The household `number` in the line's mutual and inside the token's scope (400 else)."""
    query = scoped(select(Household), Household).where(Household.number == number)
    if item.mutual_id is not None:
        query = query.where(Household.mutual_id == item.mutual_id)
    found = list(request_session().scalars(query.limit(2)))
    if len(found) != 1:
        _refuse(400, f"no single household {number} in this line's mutual and your scope")
    return found[0]


def _refuse(code: int, message: str) -> NoReturn:
    """Nothing written: the transaction is rolled back before the error answer."""
    request_session().rollback()
    abort(code, message)


@api_view("/reconciliation/exceptions/<int:suspense_id>/assign", roles=WRITERS, methods=("POST",))
def exception_assign(suspense_id: int) -> Response:
    """Body `{"household": NUMBER, "reason": TEXT}`: 200 with the action (state DONE, or
    PENDING above the approval threshold: maker-checker)."""
    item = get_or_404(SuspenseItem, suspense_id)
    body = json_body()
    number = text_field(body, "household", limit=NUMBER_LENGTH)
    reason = text_field(body, "reason", limit=REASON_LENGTH)
    household = _household_in_scope(item, number)
    db, now = request_session(), runtime().clock.now()
    try:
        done = reconciliation.assign(db, item.id, number, by=api_by(), reason=reason, now=now)
    except ReconcileError as exc:
        _refuse(409, str(exc))
    after = {"household": number, "amount": done.amount, "state": str(done.state)}
    record_action(
        db,
        api_actor(),
        "reconciliation.assign",
        ("suspense", item.id),
        now=now,
        where=_where(item, household),
        after={**after, "recon_action": done.id, "by_token": token_name()},
        reason=reason,
    )
    db.commit()
    waits = done.state == ActionState.PENDING
    return jsonify(
        {"suspense": item.id, "action": done.id, "state": str(done.state), "waits_approval": waits}
    )


@api_view("/reconciliation/exceptions/<int:suspense_id>/ignore", roles=WRITERS, methods=("POST",))
def exception_ignore(suspense_id: int) -> Response:
    """Body `{"reason": TEXT}` (required: the money is dropped from matching)."""
    item = get_or_404(SuspenseItem, suspense_id)
    reason = text_field(json_body(), "reason", limit=REASON_LENGTH)
    db, now = request_session(), runtime().clock.now()
    try:
        done = reconciliation.ignore(db, item.id, reason=reason, by=api_by(), now=now)
    except ReconcileError as exc:
        _refuse(409, str(exc))
    record_action(
        db,
        api_actor(),
        "reconciliation.ignore",
        ("suspense", item.id),
        now=now,
        where=_where(item),
        after={
            "state": str(item.state),
            "amount": item.amount,
            "recon_action": done.id,
            "by_token": token_name(),
        },
        reason=reason,
    )
    db.commit()
    return jsonify(
        {"suspense": item.id, "action": done.id, "state": str(done.state), "waits_approval": False}
    )
