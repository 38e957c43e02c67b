"""`GET /api/v1/households/<number>` (issue 17): the eligibility document of interfaces.md (the
same service as `gateway eligibility --json`, D11-D12, with the amount offered D6b and the
credit), plus the household's beneficiaries as registered (D23). A number outside the token's
scope is 404, as one that does not exist."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from gateway.console.api.common import iso, mutual_filter
from gateway.console.views import api_view, scoped
from gateway.handlers import request_session, runtime
from gateway.models import Beneficiary, Household, Role
from gateway.services.coverage import coverage

READERS = (Role.ADMIN, Role.MANAGER, Role.FINANCE)  # named members: not the viewer (D27)


@api_view("/households/<number>", roles=READERS)
def household(number: str) -> Response:
    """The household `number` (`?mutual=CODE` when the number repeats across mutuals)."""
    session = request_session()
    row = household_in_scope(number, selectinload(Household.beneficiaries))
    document = coverage(session, row.number, runtime().clock.today(), row.mutual_id, "household")
    document["mutual"] = row.mutual.code
    document["beneficiaries"] = [_beneficiary(b) for b in row.beneficiaries]
    return jsonify(document)


def household_in_scope(number: str, *options: Any) -> Household:
    """The household `number` inside the token's scope (404 otherwise; 409 when it repeats
    across the scope's mutuals and no `?mutual=CODE` chooses)."""
    query = scoped(select(Household).where(Household.number == number), Household)
    in_mutual = mutual_filter(Household.mutual_id)
    if in_mutual is not None:
        query = query.where(in_mutual)
    found = request_session().scalars(query.options(*options).limit(2)).all()
    if not found:
        abort(404, "no such household")
    if len(found) > 1:
        abort(409, "this number exists in several mutuals: give ?mutual=CODE")
    return found[0]


def _beneficiary(row: Beneficiary) -> dict[str, Any]:
    return {
        "number": row.number,
        "name": row.full_name,
        "sex": row.sex,
        "birth_date": iso(row.birth_date),
        "relationship": row.relation,
        "register_status": row.status,
        "status_reason": row.status_reason,
        "enrolled_on": iso(row.enrolled_on),
        "left_on": iso(row.left_on),
    }
