"""D22 indicator jobs: recompute one mutual's periods from a day (after a target changes, or
on demand), and the periodic run over the dirty marks that payments, allocations and register
events leave. Ids in; each run replaces whole periods in one transaction, so running twice
writes the same rows (idempotent)."""

from __future__ import annotations

import datetime as dt
import logging

from gateway.services.indicators import recompute, recompute_dirty
from worker.jobs import context

log = logging.getLogger(__name__)


def recompute_indicators(mutual_id: str, since_iso: str = "") -> int:
    """Every period of the mutual ending on or after `since_iso` ("" : from its first data)."""
    ctx = context()
    now = ctx.clock.now()
    since = dt.date.fromisoformat(since_iso) if since_iso else None
    with ctx.session() as session:
        rows = recompute(session, [int(mutual_id)], since, now.date(), now)
    log.info("indicators of mutual %s since %s: %d row(s)", mutual_id, since_iso or "-", rows)
    return rows


def recompute_dirty_indicators() -> int:
    """What the writes since the last run marked; returns how many mutuals were recomputed."""
    ctx = context()
    now = ctx.clock.now()
    with ctx.session() as session:
        done = recompute_dirty(session, now.date(), now)
    if done:
        log.info("indicators recomputed for %d mutual(s)", done)
    return done
