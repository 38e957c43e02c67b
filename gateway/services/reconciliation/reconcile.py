"""Reconciliation of one provider's statement for one mutual (payments.md): import, match,
act, settle. The command and the `reconcile` job both come through here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Mutual
from gateway.services.reconciliation.effects import apply_results, settle
from gateway.services.reconciliation.match import DEFAULT_LAG_HOURS, Scope, match
from gateway.services.reconciliation.statement_import import StatementImport, import_statement

DEFAULT_APPROVAL_THRESHOLD = 50_000  # XOF; `[payment] approval_threshold` in the mutual file


class ReconcileError(ValueError):
    """Bad command input (unknown mutual, bad setting): nothing was done."""


def mutual_by_code(session: Session, code: str) -> Mutual:
    found = session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
    if found is None:
        raise ReconcileError(f"unknown mutual {code!r}")
    return found


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


def reconcile_days(
    session: Session, mutual: Mutual, provider: str, days: list[dt.date]
) -> RunSummary:
    """Match the days' new lines, act on the results, post the settlements. Idempotent."""
    scope = Scope(mutual.id, provider, tuple(sorted(set(days))))
    match(session, scope, lag_hours(mutual))
    acted = apply_results(session, scope, lag_hours(mutual))
    settlements = settle(session, scope)
    return RunSummary(scope.days, acted, settlements)


def import_and_reconcile(
    session: Session,
    mutual: Mutual,
    provider: str,
    data: bytes,
    *,
    filename: str,
    now: dt.datetime,
) -> tuple[StatementImport, RunSummary]:
    imported = import_statement(session, mutual, provider, data, filename=filename, now=now)
    return imported, reconcile_days(session, mutual, provider, imported.days)
