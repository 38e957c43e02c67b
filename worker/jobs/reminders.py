"""Reminder jobs (D14-D17): the campaign reminders due now."""

from __future__ import annotations

import datetime as dt
import logging

from gateway.services import reminders
from worker.jobs import context

log = logging.getLogger(__name__)


def run_reminders(now_iso: str | None = None) -> int:
    """Campaign reminders due at `now_iso` (ISO datetime, UTC if naive) or the clock's now
    (D14-D17); returns how many were queued (every count is logged). The queued messages get
    their send jobs from the sms-dispatch sweeper."""
    ctx = context()
    if now_iso:
        now = dt.datetime.fromisoformat(now_iso)
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    else:
        now = ctx.clock.now()
    with ctx.session() as session:
        counts = reminders.run_reminders(session, now).as_dict()
    log.info("reminders at %s: %s", now.isoformat(), counts)
    return counts["sent"]
