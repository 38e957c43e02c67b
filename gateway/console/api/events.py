"""`POST /api/v1/households/<number>/events` (issue 18, D23): record one dated event of a
household, as `gateway members event` does, from a JSON body; D3-D7 apply at once. Managers
and admins only (the viewer and finance: 403); a household outside the token's scope is 404;
every bad field is named in a 400; one `operator_actions` row per event (D27)."""

from __future__ import annotations

from flask import Response, abort, g, jsonify, request
from sqlalchemy import select

from gateway.clock import local_date
from gateway.console.api.common import mutual_filter
from gateway.console.events import Invalid, change_from, described, record
from gateway.console.views import api_view, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Household, Role
from gateway.services.members import EventError
from gateway.services.operators import Actor

RECORDERS = (Role.ADMIN, Role.MANAGER)  # D27: managers change members


@api_view("/households/<number>/events", roles=RECORDERS, methods=("POST",))
def household_event(number: str) -> tuple[Response, int]:
    """Record the event the body describes (`?mutual=CODE` when the number repeats)."""
    session = request_session()
    query = scoped(select(Household).where(Household.number == number), Household)
    in_mutual = mutual_filter(Household.mutual_id)
    if in_mutual is not None:
        query = query.where(in_mutual)
    found = session.scalars(query.limit(2)).all()
    if not found:
        abort(404, "no such household")
    if len(found) > 1:
        abort(409, "this number exists in several mutuals: give ?mutual=CODE")
    household = found[0]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _invalid({"body": "a JSON object"})
    now = runtime().clock.now()
    by = f"api:{request_token()}"
    try:
        change = change_from(household, body, by, local_date(now, household.mutual.timezone))
        recorded = record(session, household, change, Actor(None, request.remote_addr), now)
    except Invalid as exc:
        session.rollback()
        return _invalid(exc.fields)
    except EventError as exc:
        session.rollback()
        return jsonify({"error": "Bad Request", "reason": str(exc), "fields": {}}), 400
    answer = described(household, recorded)
    session.commit()
    return jsonify(answer), 201 if recorded.created else 200


def request_token() -> str:
    return str(g.get("api_token", "-"))


def _invalid(fields: dict[str, str]) -> tuple[Response, int]:
    reason = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return jsonify({"error": "Bad Request", "reason": reason, "fields": fields}), 400
