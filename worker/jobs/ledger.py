"""Ledger jobs: the periodic audit of the ledger's invariants."""

from __future__ import annotations

import logging

from gateway.services.ledger import audit
from worker.jobs import context

log = logging.getLogger(__name__)


def ledger_audit() -> int:
    """Check the ledger invariants and log one error per breach; read-only, so re-runnable."""
    with context().session() as session:
        breaches: list[str] = list(audit(session))
        session.rollback()
    for breach in breaches:
        log.error("ledger breach: %s", breach)
    log.info("ledger audit: %d breach(es)", len(breaches))
    return len(breaches)
