"""One decision as the CLI, the console and the API take it (D24, D27): the service's approve
or reject and its `operator_actions` row, in the caller's transaction (an enrolment typed and
approved at once on the console: one `enrolment.create` row); and the row every one of them
shows for an enrolment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from gateway.lib.phones import mask_msisdn
from gateway.models import Enrolment
from gateway.services.members.enrolment.decide import EnrolmentError, approve, reject
from gateway.services.operators import Actor, Where, record_action

VERDICTS = ("approve", "reject")


def decide_enrolment(
    session: Session,
    enrolment: Enrolment,
    verdict: str,
    *,
    by: str,
    actor: Actor,
    reason: str,
    now: dt.datetime,
    created: bool = False,
) -> dict[str, Any]:
    """Approve or reject, and record who did it and why; the enrolment's row after it.
    `created`: the enrolment was just typed by the operator who approves it (the console's
    form): its one row is `enrolment.create`, with what was typed, the duplicates the
    operator confirmed, and the approval's result."""
    before: dict[str, Any] | None = {"status": enrolment.status.value}
    if verdict == "approve":
        done = approve(session, enrolment, by=by, now=now)
        after: dict[str, Any] = {
            "status": "APPROVED",
            "household": done.household.number,
            "members": done.numbers,
            "sms": done.sms_ids,
        }
    elif verdict == "reject":
        sms = reject(session, enrolment, by=by, reason=reason, now=now)
        after = {"status": "REJECTED", "sms": sms}
    else:
        raise EnrolmentError(f"verdict must be one of {', '.join(VERDICTS)}")
    after["by"] = by
    action = f"enrolment.{verdict}"
    if created:
        action, before = "enrolment.create", None
        row = enrolment_row(enrolment)
        head = {**row["head"], "phone": mask_msisdn(row["head"]["phone"] or "")}  # as agents'
        after = {**after, "head": head, "dependants": row["dependants"]}
        after["duplicates"] = row["duplicates"]  # those the operator saw and confirmed
    where = Where(mutual_id=enrolment.mutual_id, section_id=enrolment.section_id)
    record_action(
        session,
        actor,
        action,
        ("enrolment", enrolment.id),
        now=now,
        where=where,
        before=before,
        after=after,
        reason=reason or None,
    )
    return enrolment_row(enrolment)


def enrolment_row(e: Enrolment) -> dict[str, Any]:
    """What lists show (the CLI's --json, the API): the head, the dependants, the flags."""
    return {
        "id": e.id,
        "mutual": e.mutual.code,
        "section": e.section.name if e.section else None,
        "status": e.status.value,
        "agent": e.agent.name if e.agent else None,  # None: enrolled on the console
        "head": {
            "name": e.head_name,
            "sex": e.head_sex,
            "year": e.head_year,
            "phone": e.head_phone,
        },
        "dependants": [
            {"name": d.full_name, "sex": d.sex, "year": d.birth_year} for d in e.dependants
        ],
        "duplicates": list(e.duplicates or []),
        "household": e.household.number if e.household else None,
        "submitted_at": e.submitted_at.isoformat() if e.submitted_at else None,
        "decided_by": e.decided_by,
        "decided_at": e.decided_at.isoformat() if e.decided_at else None,
        "reason": e.decision_reason,
    }
