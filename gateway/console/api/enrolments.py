"""`POST /api/v1/enrolments/<id>/approve|reject` (console.md writes, D24): a manager's or an
admin's token decides on a field enrolment through the service the console and the CLI use,
with one `operator_actions` row (no user: the token's name is kept as who decided). JSON body
`{"reason": "..."}`, required to reject. An enrolment outside the token's scope is 404, as one
that does not exist; one already decided is 409."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, g, jsonify, request

from gateway.console.views import api_view, get_or_404
from gateway.handlers import request_session, runtime
from gateway.models import Enrolment, Role
from gateway.services.members import EnrolmentError, EventError, decide_enrolment
from gateway.services.operators import Actor

DECIDERS = (Role.ADMIN, Role.MANAGER)
REASON_MAX = 300


@api_view("/enrolments/<int:enrolment_id>/approve", roles=DECIDERS, methods=("POST",))
def api_enrolment_approve(enrolment_id: int) -> Response:
    return _decide(enrolment_id, "approve")


@api_view("/enrolments/<int:enrolment_id>/reject", roles=DECIDERS, methods=("POST",))
def api_enrolment_reject(enrolment_id: int) -> Response:
    return _decide(enrolment_id, "reject")


def _reason() -> str:
    body: Any = request.get_json(silent=True) if request.content_length else {}
    if body is None or not isinstance(body, dict):
        abort(400, 'the body must be a JSON object: {"reason": "..."}')
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        abort(400, f"reason must be a string of at most {REASON_MAX} characters")
    return reason.strip()


def _decide(enrolment_id: int, verdict: str) -> Response:
    found = get_or_404(Enrolment, enrolment_id)
    reason = _reason()
    if verdict == "reject" and not reason:
        abort(400, "a reason is required to reject an enrolment")
    db = request_session()
    try:
        row = decide_enrolment(
            db,
            found,
            verdict,
            by=f"api:{g.api_token}",
            actor=Actor(None, request.remote_addr),
            reason=reason,
            now=runtime().clock.now(),
        )
    except (EnrolmentError, EventError) as exc:
        db.rollback()
        abort(409, str(exc))
    db.commit()  # SMS send jobs are enqueued once this commits
    return jsonify(row)
