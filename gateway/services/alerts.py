"""Operator alerts (a paused campaign, an escalated payment, an agent holding cash too long...).

Raising is idempotent: the dedupe key names the condition, so a job that runs every few minutes
raises one alert, not one per run. The caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import Alert

log = logging.getLogger(__name__)


def raise_alert(
    session: Session,
    *,
    kind: str,
    subject: str,
    detail: str,
    now: dt.datetime,
    mutual_id: int | None = None,
    key: str | None = None,
) -> tuple[Alert, bool]:
    """Record an alert once per `key` (default kind:subject); returns (alert, created)."""
    dedupe_key = key or f"{kind}:{subject}"
    found = _by_key(session, dedupe_key)
    if found is not None:
        return found, False
    alert = Alert(
        mutual_id=mutual_id,
        kind=kind,
        subject=subject,
        detail=detail,
        dedupe_key=dedupe_key,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:  # a concurrent run raised it first
        found = _by_key(session, dedupe_key)
        if found is None:
            raise
        return found, False
    log.warning("alert kind=%s subject=%s: %s", kind, subject, detail)
    return alert, True


def resolve_alert(session: Session, alert_id: int, now: dt.datetime) -> Alert | None:
    alert = session.get(Alert, alert_id)
    if alert is not None and alert.resolved_at is None:
        alert.resolved_at = now
    return alert


def open_alerts(session: Session, mutual_id: int | None = None, limit: int = 100) -> list[Alert]:
    query = select(Alert).where(Alert.resolved_at.is_(None))
    if mutual_id is not None:
        query = query.where(Alert.mutual_id == mutual_id)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def _by_key(session: Session, key: str) -> Alert | None:
    return session.scalars(select(Alert).where(Alert.dedupe_key == key)).first()
