"""People resolve reconciliation exceptions (payments.md): assign a suspense line to a
household, or ignore it with a reason. Every decision is a `recon_actions` row (who, when,
why). Above the mutual's approval threshold an assignment waits for a second, different
person (maker-checker). A suspense line is resolved once: the state change is a conditional
UPDATE, so of two people acting at the same moment exactly one succeeds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.models import (
    ActionKind,
    ActionState,
    Household,
    Mutual,
    ReconAction,
    SuspenseItem,
    SuspenseState,
)
from gateway.services import ledger, payments
from gateway.services.coverage import receive_payment
from gateway.services.reconciliation.reconcile import ReconcileError, approval_threshold


class AlreadyResolved(ReconcileError):
    """Someone else resolved this suspense line first; nothing was changed."""


def assign(
    session: Session,
    suspense_id: int,
    household_number: str,
    *,
    by: str,
    now: dt.datetime,
    reason: str | None = None,
) -> ReconAction:
    """DONE when at or below the threshold; PENDING (waiting for `approve`) above it."""
    who = _who(by)
    item = _open_item(session, suspense_id)
    household = _household(session, item, household_number)
    mutual = session.get_one(Mutual, household.mutual_id)
    pending = _pending(session, item.id)
    if pending is not None:
        raise ReconcileError(f"suspense {item.id} already awaits approval (action {pending.id})")
    action = ReconAction(
        mutual_id=mutual.id,
        kind=ActionKind.ASSIGN,
        state=ActionState.PENDING,
        suspense_id=item.id,
        household_id=household.id,
        amount=item.amount,
        by=who,
        reason=reason,
        at=now,
    )
    session.add(action)
    if item.amount <= approval_threshold(mutual):
        _assign(session, item, household, who, reason, now)
        action.state = ActionState.DONE
    session.flush()
    return action


def approve(session: Session, action_id: int, *, by: str, now: dt.datetime) -> ReconAction:
    who = _who(by)
    action = session.get(ReconAction, action_id)
    if action is None or action.kind != ActionKind.ASSIGN:
        raise ReconcileError(f"no assignment {action_id}")
    if action.state != ActionState.PENDING:
        raise ReconcileError(f"action {action_id} is {action.state}, not awaiting approval")
    if who == action.by:
        raise ReconcileError(f"{who} asked for action {action_id}: another person must approve")
    item = _open_item(session, action.suspense_id)
    household = session.get_one(Household, action.household_id)
    _assign(session, item, household, action.by, action.reason, now)
    action.state, action.approved_by, action.approved_at = ActionState.DONE, who, now
    session.add(
        ReconAction(
            mutual_id=action.mutual_id,
            kind=ActionKind.APPROVE,
            state=ActionState.DONE,
            suspense_id=item.id,
            household_id=household.id,
            amount=item.amount,
            approves_id=action.id,
            by=who,
            at=now,
        )
    )
    session.flush()
    return action


def ignore(
    session: Session, suspense_id: int, *, reason: str, by: str, now: dt.datetime
) -> ReconAction:
    """Money that belongs to nobody here (refunded by the provider, a test...): the line is
    closed with the reason; any refund is booked on its own."""
    who = _who(by)
    if not reason or not reason.strip():
        raise ReconcileError("--reason is required to ignore a suspense line")
    item = _open_item(session, suspense_id)
    _claim(session, item, SuspenseState.IGNORED, None, who, reason, now)
    action = ReconAction(
        mutual_id=item.mutual_id,
        kind=ActionKind.IGNORE,
        state=ActionState.DONE,
        suspense_id=item.id,
        amount=item.amount,
        by=who,
        reason=reason.strip(),
        at=now,
    )
    session.add(action)
    session.flush()
    return action


def exceptions(session: Session, mutual: Mutual | None = None) -> dict[str, list[dict[str, Any]]]:
    """Open suspense lines and assignments awaiting approval, oldest first."""
    items = (
        select(SuspenseItem)
        .where(SuspenseItem.state == SuspenseState.OPEN)
        .order_by(SuspenseItem.id)
    )
    actions = (
        select(ReconAction)
        .where(ReconAction.state == ActionState.PENDING, ReconAction.kind == ActionKind.ASSIGN)
        .order_by(ReconAction.id)
    )
    if mutual is not None:
        items = items.where(SuspenseItem.mutual_id == mutual.id)
        actions = actions.where(ReconAction.mutual_id == mutual.id)
    return {
        "suspense": [_item_view(item) for item in session.scalars(items)],
        "pending_approvals": [_action_view(session, a) for a in session.scalars(actions)],
    }


def _item_view(item: SuspenseItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "provider": item.provider,
        "provider_txn_id": item.provider_txn_id,
        "reference": item.reference,
        "msisdn": item.msisdn,
        "amount": item.amount,
        "reason": item.reason,
        "received_on": item.received_on.isoformat(),
        "booked": item.ledger_key is not None,
    }


def _action_view(session: Session, action: ReconAction) -> dict[str, Any]:
    household = session.get(Household, action.household_id) if action.household_id else None
    return {
        "id": action.id,
        "suspense_id": action.suspense_id,
        "household": household.number if household else None,
        "amount": action.amount,
        "by": action.by,
        "reason": action.reason,
        "at": action.at.isoformat(),
    }


def _assign(
    session: Session,
    item: SuspenseItem,
    household: Household,
    who: str,
    reason: str | None,
    now: dt.datetime,
) -> None:
    """Claim the line, book it in the household's mutual if nobody had, then Dr suspense /
    Cr household and allocate (D7) through the one entry point for money in."""
    _claim(session, item, SuspenseState.ASSIGNED, household.id, who, reason, now)
    payments.book_suspense(session, item, household.mutual_id)
    receive_payment(
        session,
        household=household,
        amount=item.amount,
        paid_on=now.date(),
        channel="mobile",
        reference=f"suspense:{item.provider}:{item.provider_txn_id}"[:100],
        debit_account=ledger.accounts.suspense(item.provider),
        now=now,
    )


def _claim(
    session: Session,
    item: SuspenseItem,
    state: SuspenseState,
    household_id: int | None,
    who: str,
    reason: str | None,
    now: dt.datetime,
) -> None:
    """OPEN -> state, only if still OPEN: the database decides between two people."""
    done = session.execute(
        update(SuspenseItem)
        .where(SuspenseItem.id == item.id, SuspenseItem.state == SuspenseState.OPEN)
        .execution_options(synchronize_session=False)
        .values(
            state=state,
            household_id=household_id if household_id is not None else item.household_id,
            resolved_at=now,
            resolved_by=who,
            note=reason,
        )
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(item)
        raise AlreadyResolved(f"suspense {item.id} was resolved by someone else just now")
    session.refresh(item)


def _open_item(session: Session, suspense_id: int) -> SuspenseItem:
    item = session.get(SuspenseItem, suspense_id)
    if item is None:
        raise ReconcileError(f"no suspense line {suspense_id}")
    if item.state != SuspenseState.OPEN:
        when = item.resolved_at.date().isoformat() if item.resolved_at else "?"
        raise AlreadyResolved(
            f"suspense {suspense_id} is already {item.state} (by {item.resolved_by} on {when})"
        )
    return item


def _household(session: Session, item: SuspenseItem, number: str) -> Household:
    query = select(Household).where(Household.number == number)
    if item.mutual_id is not None:
        query = query.where(Household.mutual_id == item.mutual_id)
    found = list(session.scalars(query))
    if not found:
        raise ReconcileError(f"unknown household {number!r} for suspense {item.id}")
    if len(found) > 1:
        raise ReconcileError(f"household {number!r} exists in several mutuals")
    return found[0]


def _pending(session: Session, suspense_id: int) -> ReconAction | None:
    query = select(ReconAction).where(
        ReconAction.suspense_id == suspense_id,
        ReconAction.kind == ActionKind.ASSIGN,
        ReconAction.state == ActionState.PENDING,
    )
    return session.scalars(query).first()


def _who(by: str) -> str:
    who = (by or "").strip()
    if not who or len(who) > 60:
        raise ReconcileError("--by must name the person acting (1 to 60 characters)")
    return who
