"""Ledger jobs: the periodic audit of the ledger's invariants (payments.md, "Ledger": a failed
audit stops automatic allocation and alerts)."""

from __future__ import annotations

import logging

from gateway.services.ledger import breaches_by_mutual, find_breaches, hold_breached
from worker.jobs import context

log = logging.getLogger(__name__)


def ledger_audit() -> int:
    """Check the ledger invariants, log one error per breach, and put each mutual with breaches
    on hold with an operator alert (once per hold: a re-run adds nothing). Returns the number
    of breaches."""
    ctx = context()
    with ctx.session() as session:
        breaches = find_breaches(session)
        held = hold_breached(session, breaches_by_mutual(breaches), now=ctx.clock.now())
    for breach in breaches:
        log.error("ledger breach: %s", breach.text)
    log.info("ledger audit: %d breach(es), %d mutual(s) on hold", len(breaches), len(held))
    return len(breaches)
