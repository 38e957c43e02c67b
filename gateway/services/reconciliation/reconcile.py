"""Reconciliation of one provider's statement for one mutual (payments.md): import, match,
act, settle. The command and the `reconcile` job both come through here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Mutual
from gateway.services.alerts import raise_alert
from gateway.services.reconciliation.effects import apply_results, settle
from gateway.services.reconciliation.match import DEFAULT_LAG_HOURS, Scope, match
from gateway.services.reconciliation.statement_import import (
    PROVIDERS,
    StatementImport,
    covered_days,
    import_statement,
)

DEFAULT_APPROVAL_THRESHOLD = 50_000  # XOF; `[payment] approval_threshold` in the mutual file
FAILED_ALERT = "reconcile_failed"


class ReconcileError(ValueError):
    """Bad command input (unknown mutual, bad setting): nothing was done."""


def mutual_by_code(session: Session, code: str) -> Mutual:
    found = session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
    if found is None:
        raise ReconcileError(f"unknown mutual {code!r}")
    return found


def business_day(value: str) -> dt.date:
    """A business day given as YYYY-MM-DD; the first and last days a date can hold are
    refused, as the report reads the day before and the day after."""
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ReconcileError(f"must be a date YYYY-MM-DD, got {value!r}") from None
    if not dt.date.min < day < dt.date.max:
        raise ReconcileError(f"date out of range: {value!r}")
    return day


def setting(mutual: Mutual, key: str, default: int) -> int:
    """A whole-number setting of the mutual's `[payment]` table."""
    value = (mutual.payment_settings or {}).get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReconcileError(f"[payment] {key} of mutual {mutual.code} must be a whole number >= 0")
    return value


def lag_hours(mutual: Mutual) -> int:
    return setting(mutual, "settlement_lag_hours", DEFAULT_LAG_HOURS)


def approval_threshold(mutual: Mutual) -> int:
    return setting(mutual, "approval_threshold", DEFAULT_APPROVAL_THRESHOLD)


@dataclass(frozen=True)
class RunSummary:
    days: tuple[dt.date, ...]
    acted: int
    settlements: int
    uncovered: tuple[dt.date, ...] = ()  # days no statement line falls on

    def as_dict(self) -> dict[str, object]:
        return {
            "days": [d.isoformat() for d in self.days],
            "acted": self.acted,
            "settlements": self.settlements,
            "uncovered": [d.isoformat() for d in self.uncovered],
        }


def reconcile_days(
    session: Session, mutual: Mutual, provider: str, days: list[dt.date]
) -> RunSummary:
    """Match the days' new lines, act on the results, post the settlements. Idempotent.

    A day no statement covers is a normal case: nothing to match, and the intents credited
    that day are missing_in_statement (`expected` until the provider's newest line is the
    settlement lag past them)."""
    if provider not in PROVIDERS:
        raise ReconcileError(f"unknown provider {provider!r}: one of {', '.join(PROVIDERS)}")
    scope = Scope(mutual.id, provider, tuple(sorted(set(days))))
    match(session, scope, lag_hours(mutual))
    acted = apply_results(session, scope, lag_hours(mutual))
    settlements = settle(session, scope)
    covered = covered_days(session, mutual.id, provider, scope.days)
    uncovered = tuple(day for day in scope.days if day not in covered)
    return RunSummary(scope.days, acted, settlements, uncovered)


def import_and_reconcile(
    session: Session,
    mutual: Mutual,
    provider: str,
    data: bytes | Path,
    *,
    filename: str,
    now: dt.datetime,
) -> tuple[StatementImport, RunSummary]:
    imported = import_statement(session, mutual, provider, data, filename=filename, now=now)
    return imported, reconcile_days(session, mutual, provider, imported.days)


def alert_failed_run(
    session: Session, *, provider: str, mutual_code: str, day: str, reason: str, now: dt.datetime
) -> None:
    """An operator alert for a reconciliation run that failed for good (the `reconcile` job's
    last attempt, or arguments no retry mends): once per provider, mutual and day."""
    subject = f"{provider} {mutual_code} {day}"[:150]
    found = session.scalars(select(Mutual).where(Mutual.code == mutual_code)).one_or_none()
    raise_alert(
        session,
        kind=FAILED_ALERT,
        subject=subject,
        detail=f"reconciliation of {subject} failed: {reason}"[:1000],
        now=now,
        mutual_id=found.id if found is not None else None,
    )
