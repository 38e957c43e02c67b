"""Notice jobs (D9, D16, D18): the coverage-start SMS of households whose cover starts today."""

from __future__ import annotations

import datetime as dt
import logging

from gateway.services import notices
from worker.jobs import context

log = logging.getLogger(__name__)


def coverage_starts(now_iso: str | None = None) -> int:
    """Coverage-start notices due at `now_iso` (ISO datetime, UTC if naive) or the clock's now;
    returns how many were queued (every count is logged). Run hourly by the scheduler; the
    queued messages get their send jobs from the sms-dispatch sweeper."""
    ctx = context()
    if now_iso:
        now = dt.datetime.fromisoformat(now_iso)
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    else:
        now = ctx.clock.now()
    with ctx.session() as session:
        counts = notices.send_cover_starts(session, now).as_dict()
    log.info("coverage starts at %s: %s", now.isoformat(), counts)
    return counts["sent"] + counts["sent_late"]
