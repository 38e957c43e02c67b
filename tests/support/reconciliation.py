"""The golden reconciliation day (payments.md, "Reconciliation"): intents in every state the
statement in tests/data/statements/sandbox_2026-11-24.csv meets, one per bucket and tier."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from gateway.models import Household, IntentState, Mutual, PaymentIntent
from gateway.services.payments import ProviderState, StatusResult, flow
from gateway.services.payments.intents import create_intent
from tests.support.factories import make_household, make_mutual
from tests.support.paths import DATA

STATEMENTS = DATA / "statements"
DAY = dt.date(2026, 11, 24)
AT = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
DUE = 6000


def ref(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def phone(n: int) -> str:
    return f"+226700000{n:02d}"


def intent(
    db: Session,
    household: Household,
    n: int,
    *,
    msisdn: str | None = None,
    amount: int = DUE,
    at: dt.datetime = AT,
) -> PaymentIntent:
    made = create_intent(db, household=household, amount=amount, msisdn=msisdn or phone(n), now=at)
    made.reference = ref(n)
    made.state = IntentState.PENDING
    db.flush()
    return made


def succeed(db: Session, made: PaymentIntent, txn: str, at: dt.datetime) -> None:
    truth = StatusResult(
        ProviderState.SUCCEEDED, amount=made.amount, currency="XOF", provider_txn_id=txn
    )
    assert flow.apply_status(db, made.id, truth, at) == "applied"


def golden_day(db: Session) -> tuple[Mutual, dict[str, PaymentIntent]]:
    """A: credited, line by reference (tier 1) and a second collection (duplicate);
    B: credited, line by transaction id (tier 2); C: credited, line by phone and amount
    (tier 3); D: callback lost, line applies it; E: credited, no line; F: pending, line with
    another amount; H1/H2: two equal candidates for one line (tier 4); J: pending, the line
    says it failed. Plus a line nobody knows (G)."""
    mutual = make_mutual(db, code="GOLD")
    homes = {n: make_household(db, mutual, members=1, number=f"H{n:03d}") for n in range(1, 11)}
    intents = {
        "A": intent(db, homes[1], 1),
        "B": intent(db, homes[2], 2),
        "C": intent(db, homes[3], 3, at=AT + dt.timedelta(hours=1, minutes=30)),
        "D": intent(db, homes[4], 4),
        "E": intent(db, homes[5], 5),
        "F": intent(db, homes[6], 6),
        "H1": intent(db, homes[7], 7, msisdn=phone(8), at=AT + dt.timedelta(hours=3)),
        "H2": intent(db, homes[8], 8, at=AT + dt.timedelta(hours=3, minutes=30)),
        "J": intent(db, homes[9], 10),
    }
    succeed(db, intents["A"], "TX-A", AT + dt.timedelta(hours=1))
    succeed(db, intents["B"], "TX-B", AT + dt.timedelta(hours=1, minutes=2))
    succeed(db, intents["C"], "TX-C-CALLBACK", AT + dt.timedelta(hours=2))
    succeed(db, intents["E"], "TX-E", AT + dt.timedelta(hours=3))
    db.flush()
    return mutual, intents
