"""Jobs about agents' cash (D21): flag agents holding collected cash longer than their
mutual's `cash_max_days`. Idempotent: one alert per agent, oldest collection and age bucket."""

from __future__ import annotations

import logging

from gateway.services.agents import flag_stale_cash
from worker.jobs import context

log = logging.getLogger(__name__)


def agent_cash_age() -> int:
    """Raise the alerts due now; returns how many are new (a rerun raises none)."""
    ctx = context()
    with ctx.session() as session:
        raised = flag_stale_cash(session, ctx.clock.now())
    log.info("agent cash age: %d new alert(s)", raised)
    return raised
