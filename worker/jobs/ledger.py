"""Ledger jobs: the periodic audits of the ledger's invariants (payments.md, "Ledger": a failed
audit stops automatic allocation and alerts): the full one nightly, the recent one (what
changed since its last run, issue 19) every few minutes; both hold and alert the same way."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from gateway.models import LedgerHold
from gateway.services.ledger import (
    Breach,
    audit_recent,
    breaches_by_mutual,
    find_breaches,
    hold_breached,
)
from worker.jobs import context

log = logging.getLogger(__name__)


def ledger_audit() -> int:
    """Check the ledger invariants, log one error per breach, and put each mutual with breaches
    on hold with an operator alert (once per hold: a re-run adds nothing). Returns the number
    of breaches."""
    ctx = context()
    with ctx.session() as session:
        breaches = find_breaches(session)
        held = _hold(session, breaches, ctx.clock.now())
    _log("ledger audit", breaches, held)
    return len(breaches)


def ledger_audit_recent() -> int:
    """The same check on what changed since the recent audit's last run (new transactions,
    entries added to old ones, rows edited behind the append-only triggers); same log lines,
    holds and alerts as the full audit. Returns the number of breaches."""
    ctx = context()
    with ctx.session() as session:
        run = audit_recent(session, now=ctx.clock.now())
        held = _hold(session, run.breaches, ctx.clock.now())
    _log("recent ledger audit", run.breaches, held)
    log.info(
        "recent ledger audit: transactions after #%d, %d older one(s) re-checked, mark now #%d",
        run.since,
        run.rechecked,
        run.mark,
    )
    return len(run.breaches)


def _hold(session: Session, breaches: list[Breach], now: dt.datetime) -> list[LedgerHold]:
    return hold_breached(session, breaches_by_mutual(breaches), now=now)


def _log(what: str, breaches: list[Breach], held: list[LedgerHold]) -> None:
    for breach in breaches:
        log.error("ledger breach: %s", breach.text)
    log.info("%s: %d breach(es), %d mutual(s) on hold", what, len(breaches), len(held))
