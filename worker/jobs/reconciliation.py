"""The `reconcile` job: match one provider's statement lines of one mutual and business day
again (new intents, lost callbacks), act and settle. Ids in, idempotent, safe to run twice."""

from __future__ import annotations

import datetime as dt
import logging

from gateway.services.reconciliation import mutual_by_code, reconcile_days
from worker.jobs import context

log = logging.getLogger(__name__)


def reconcile(provider: str, mutual_code: str, day_iso: str) -> int:
    """Returns how many results were acted on (0 on a rerun)."""
    day = dt.date.fromisoformat(day_iso)
    with context().session() as session:
        mutual = mutual_by_code(session, mutual_code)
        run = reconcile_days(session, mutual, provider, [day])
    log.info(
        "reconcile provider=%s mutual=%s day=%s acted=%d settlements=%d",
        provider,
        mutual_code,
        day_iso,
        run.acted,
        run.settlements,
    )
    return run.acted
