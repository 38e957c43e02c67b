"""Coverage jobs (D7): the daily allocation of households' credit, after the product changes
due that day (D23)."""

from __future__ import annotations

import datetime as dt
import logging

from gateway.services.coverage import allocate_due
from gateway.services.members import apply_due_product_changes
from worker.jobs import context

log = logging.getLogger(__name__)


def daily_allocation(day_iso: str) -> int:
    """Allocate the credit of every household due on that day (allocation is idempotent)."""
    day = dt.date.fromisoformat(day_iso)
    with context().session() as session:
        apply_due_product_changes(session, now=dt.datetime.combine(day, dt.time(), dt.UTC))
        made = int(allocate_due(session, on=day))
    log.info("daily allocation on %s: %d allocations", day_iso, made)
    return made
