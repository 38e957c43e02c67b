"""The `reconcile` job: match one provider's statement lines of one mutual and business day
again (new intents, lost callbacks), act and settle. Ids in, idempotent, safe to run twice.

A day no statement covers completes like any other (nothing to match; the day's credited
intents wait in missing_in_statement). A failure is retried (gateway.queueing); bad arguments,
which no retry mends, and the last failed attempt raise an operator alert, so that an
unreconciled day never goes unnoticed."""

from __future__ import annotations

import logging

from gateway.services.reconciliation import (
    ReconcileError,
    alert_failed_run,
    business_day,
    mutual_by_code,
    reconcile_days,
)
from worker.jobs import context, last_attempt

log = logging.getLogger(__name__)


def reconcile(provider: str, mutual_code: str, day_iso: str) -> int:
    """Returns how many results were acted on (0 on a rerun)."""
    try:
        return _reconcile(provider, mutual_code, day_iso)
    except ReconcileError as exc:
        # Unknown mutual, bad day or setting: a retry would give the same answer.
        _alert(provider, mutual_code, day_iso, str(exc))
        return 0
    except Exception as exc:
        if last_attempt():
            _alert(provider, mutual_code, day_iso, f"{type(exc).__name__}: {exc}")
        raise


def _reconcile(provider: str, mutual_code: str, day_iso: str) -> int:
    day = business_day(day_iso)
    with context().session() as session:
        mutual = mutual_by_code(session, mutual_code)
        run = reconcile_days(session, mutual, provider, [day])
    log.info(
        "reconcile provider=%s mutual=%s day=%s acted=%d settlements=%d statement=%s",
        provider,
        mutual_code,
        day_iso,
        run.acted,
        run.settlements,
        "none" if run.uncovered else "imported",
    )
    return run.acted


def _alert(provider: str, mutual_code: str, day_iso: str, reason: str) -> None:
    """In a transaction of its own: the job's was rolled back."""
    log.error(
        "reconcile failed provider=%s mutual=%s day=%s: %s", provider, mutual_code, day_iso, reason
    )
    with context().session() as session:
        alert_failed_run(
            session,
            provider=provider,
            mutual_code=mutual_code,
            day=day_iso,
            reason=reason,
            now=context().clock.now(),
        )
