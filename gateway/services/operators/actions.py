"""The operator audit log (D27, issue 16): `record_action` adds one `operator_actions` row in
the caller's transaction, so the change and its record commit or roll back together."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import OperatorAction


@dataclass(frozen=True)
class Where:
    """The scope of the object acted on: its union, mutual and section (None: deployment)."""

    union_id: int | None = None
    mutual_id: int | None = None
    section_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user (None for the CLI on the server) and their address."""

    user_id: int | None
    ip: str | None = None


def record_action(
    session: Session,
    actor: Actor,
    action: str,
    obj: tuple[str, object],
    *,
    now: dt.datetime,
    where: Where = Where(),
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> OperatorAction:
    """One row: who, when, what (`action` on `obj` = (type, id)), before/after, why."""
    object_type, object_id = obj
    row = OperatorAction(
        user_id=actor.user_id,
        occurred_at=now,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        reason=reason or None,
        ip=actor.ip,
        union_id=where.union_id,
        mutual_id=where.mutual_id,
        section_id=where.section_id,
    )
    session.add(row)
    session.flush()
    return row
