"""A mutual's ledger on hold (payments.md, "Ledger": a failed audit stops automatic allocation and
alerts; D7).

When the audit finds breaches in a mutual's ledger, `hold` records them and raises one operator
alert; while the hold is open, `coverage.allocate` allocates nothing for that mutual and the
payment receipts that would state its coverage wait, but money received is still recorded (the
payment row and its posting). An operator `clear`s the hold with a reason, once the audit finds
no breach for the mutual (or accepting those left, `force`); the history is never deleted.

The caller owns the transaction: nothing here commits."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.models import LedgerHold, Mutual
from gateway.services.alerts import raise_alert, resolve_alert
from gateway.services.ledger.invariants import audit_by_mutual

log = logging.getLogger(__name__)

ALERT_KIND = "ledger_hold"
ALERT_LISTED = 5  # breaches named in the alert's detail; the hold row keeps them all


class HoldError(Exception):
    """Why a hold cannot be cleared; nothing was changed."""


class BreachesRemain(HoldError):
    """The audit still finds breaches for the mutual: clearing would resume allocation on a
    ledger that cannot be trusted, unless the operator accepts them."""

    def __init__(self, code: str, breaches: list[str]) -> None:
        super().__init__(f"{len(breaches)} breach(es) remain in the ledger of {code}")
        self.breaches = breaches


_OPEN_HOLD = (  # built once: every payment and allocation asks (issue 19)
    select(LedgerHold.id)
    .where(LedgerHold.mutual_id == bindparam("mutual_id"), LedgerHold.cleared_at.is_(None))
    .limit(1)
)


def on_hold(session: Session, mutual_id: int) -> bool:
    """Whether the mutual's ledger is on hold: one probe of the open-hold index, cheap enough
    for every payment and allocation."""
    return session.scalar(_OPEN_HOLD, {"mutual_id": mutual_id}) is not None


def open_hold(session: Session, mutual_id: int, *, lock: bool = False) -> LedgerHold | None:
    query = select(LedgerHold).where(
        LedgerHold.mutual_id == mutual_id, LedgerHold.cleared_at.is_(None)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def hold_history(session: Session, mutual_id: int) -> list[LedgerHold]:
    """Every hold of the mutual, newest first (the open one, if any, comes first)."""
    query = select(LedgerHold).where(LedgerHold.mutual_id == mutual_id)
    return list(session.scalars(query.order_by(LedgerHold.id.desc())))


def accepted_breaches(session: Session, mutual_id: int) -> set[str]:
    """Breaches operators accepted when they cleared a hold with `force`."""
    query = select(LedgerHold.accepted).where(
        LedgerHold.mutual_id == mutual_id, LedgerHold.cleared_at.is_not(None)
    )
    return {line for accepted in session.scalars(query) for line in accepted}


def hold(
    session: Session, mutual_id: int, breaches: Iterable[str], *, now: dt.datetime
) -> LedgerHold | None:
    """Put the mutual's ledger on hold for `breaches` and raise the alert naming them; the open
    hold if there is one already (concurrent audits included). None when there is nothing to
    hold for: no breach, or only breaches accepted by an operator's forced clear."""
    new = [b for b in dict.fromkeys(breaches) if b not in accepted_breaches(session, mutual_id)]
    if not new:
        return None
    found = open_hold(session, mutual_id)
    if found is not None:
        return found
    row = LedgerHold(mutual_id=mutual_id, set_at=now, breaches=new, accepted=[])
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:  # a concurrent audit held the mutual first
        found = open_hold(session, mutual_id)
        if found is None:
            raise
        return found
    code = _code(session, mutual_id)
    alert, _ = raise_alert(
        session,
        kind=ALERT_KIND,
        subject=f"ledger:{code}",
        detail=alert_detail(code, new),
        now=now,
        mutual_id=mutual_id,
        key=f"{ALERT_KIND}:{row.id}",  # one alert per hold: a later hold alerts again
    )
    row.alert_id = alert.id
    log.error("ledger of %s on hold: %d breach(es)", code, len(new))
    return row


def hold_breached(
    session: Session, breaches_by_mutual: Mapping[int, list[str]], *, now: dt.datetime
) -> list[LedgerHold]:
    """`hold` every mutual the audit found breaches for (`audit_by_mutual`'s result); the
    mutuals' holds, set now or before, in mutual id order."""
    holds = []
    for mutual_id in sorted(breaches_by_mutual):
        found = hold(session, mutual_id, breaches_by_mutual[mutual_id], now=now)
        if found is not None:
            holds.append(found)
    return holds


def clear(
    session: Session,
    mutual_id: int,
    by: str,
    reason: str,
    *,
    now: dt.datetime,
    force: bool = False,
) -> LedgerHold:
    """End the mutual's hold (who, when, why) and resolve its alert. Refused while the audit
    still finds breaches for the mutual other than accepted ones, unless `force`, which
    records them as accepted. Resuming what the hold stopped is the caller's (the hold only
    says that it may)."""
    by, reason = by.strip(), reason.strip()
    if not by:
        raise HoldError("say who clears the hold")
    if not reason:
        raise HoldError("a reason is required to clear a hold")
    code = _code(session, mutual_id)
    found = open_hold(session, mutual_id, lock=True)
    if found is None:
        raise HoldError(f"the ledger of {code} is not on hold")
    accepted = accepted_breaches(session, mutual_id)
    left = [b for b in audit_by_mutual(session, mutual_id).get(mutual_id, []) if b not in accepted]
    if left and not force:
        raise BreachesRemain(code, left)
    found.cleared_at = now
    found.cleared_by = by[:100]
    found.clear_reason = reason
    found.accepted = left
    if found.alert_id is not None:
        resolve_alert(session, found.alert_id, now)
    session.flush()
    log.warning("ledger hold of %s cleared by %s (%d breach(es) accepted)", code, by, len(left))
    return found


def alert_detail(code: str, breaches: list[str]) -> str:
    """What the operator reads: what stopped, how to resume, and the breaches."""
    listed = "; ".join(breaches[:ALERT_LISTED])
    more = len(breaches) - ALERT_LISTED
    tail = f"; and {more} more (gateway ledger hold --mutual {code})" if more > 0 else ""
    return (
        f"ledger of {code} on hold: automatic allocation and coverage receipts stopped "
        f"until `gateway ledger clear --mutual {code}`; {len(breaches)} breach(es): "
        f"{listed}{tail}"
    )


def _code(session: Session, mutual_id: int) -> str:
    mutual = session.get(Mutual, mutual_id)
    return mutual.code if mutual is not None else str(mutual_id)
