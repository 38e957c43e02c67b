"""Ledger test helpers: a mobile payment posted straight on the ledger, and an edit made behind
the application's back (for the audit and `gateway ledger check`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gateway.models import LedgerTransaction, Mutual
from gateway.services import ledger
from gateway.services.ledger import posting

DAY = dt.date(2026, 1, 15)
FLOAT = "asset:float:sandbox"


def tamper(engine: Engine, sql: str, **params: Any) -> None:
    """Edit the ledger behind the application's back, as someone with database access could:
    PostgreSQL skips triggers in replica mode (but those that record changes, ENABLE ALWAYS);
    SQLite drops the append-only triggers in this test's file."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in ("ledger_entries", "ledger_transactions"):
                for action in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{action}"))
        conn.execute(text(sql), params)


def pay(db: Session, mutual: Mutual, household_id: int, amount: int, key: str) -> LedgerTransaction:
    """Mobile payment confirmed: Dr float / Cr household (payments.md flows)."""
    return posting.post(
        db,
        mutual_id=mutual.id,
        key=key,
        kind="payment",
        occurred_on=DAY,
        lines=[(FLOAT, amount), (ledger.accounts.household(household_id), -amount)],
    )
