"""Matching tiers (payments.md, "Reconciliation"): (1) our reference, (2) the provider's
transaction id, (3) msisdn + amount within the window only when exactly one candidate fits
both ways, (4) a person decides; and missing_in_statement within or past the settlement lag."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import (
    LedgerTransaction,
    Mutual,
    PaymentIntent,
    ReconMatch,
    ReconMissing,
    StatementLine,
)
from gateway.services.ledger import posting
from gateway.services.reconciliation.reconcile import import_and_reconcile
from tests.support.factories import make_household
from tests.support.reconciliation import AT, intent, phone, ref, succeed

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
HEADER = "provider_txn_id,reference,msisdn,amount,currency,status,occurred_at,fee\n"


def pending(db: Session, mutual: Mutual, n: int, **kw: Any) -> PaymentIntent:
    return intent(db, make_household(db, mutual, number=f"T{n:03d}"), n, **kw)


def reconcile(db: Session, mutual: Mutual, *rows: str) -> dict[str, tuple[str, int | None]]:
    data = (HEADER + "".join(row + "\n" for row in rows)).encode()
    import_and_reconcile(db, mutual, "sandbox", data, filename="t.csv", now=NOW)
    found = db.execute(
        select(StatementLine.natural_key, ReconMatch.bucket, ReconMatch.tier).join(
            ReconMatch, ReconMatch.line_id == StatementLine.id
        )
    )
    return {key: (bucket, tier) for key, bucket, tier in found}


def test_tier1_our_reference(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    assert reconcile(db, mutual, f"X-1,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-24 09:01,0") == {
        "txn:X-1": ("matched", 1)
    }


def test_tier2_provider_transaction_id(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    assert reconcile(db, mutual, "P-1,,,6000,XOF,SUCCEEDED,2026-11-24 09:01,0") == {
        "txn:P-1": ("matched", 2)
    }


def test_tier3_one_candidate_both_ways(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    result = reconcile(db, mutual, f"P-9,,{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 10:30,0")
    assert result == {"txn:P-9": ("missing_in_ledger", 3)}
    assert made.state == "SUCCEEDED" and made.provider_txn_id == "P-9"


def test_tier3_needs_the_same_amount_and_the_window(db: Session, mutual: Mutual) -> None:
    pending(db, mutual, 1)
    result = reconcile(
        db,
        mutual,
        f"P-8,,{phone(1)},5000,XOF,SUCCEEDED,2026-11-24 09:30,0",
        f"P-9,,{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 11:01,0",
    )
    assert result == {
        "txn:P-8": ("missing_in_ledger", None),
        "txn:P-9": ("missing_in_ledger", None),
    }


def test_two_equal_intents_go_to_a_person(db: Session, mutual: Mutual) -> None:
    """Matching never guesses: two candidates -> tier 4, nothing applied."""
    first = pending(db, mutual, 1)
    second = pending(db, mutual, 2, msisdn=phone(1))
    result = reconcile(db, mutual, f"P-9,,{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 09:30,0")
    assert result == {"txn:P-9": ("missing_in_ledger", 4)}
    assert first.state == second.state == "PENDING"
    note = db.scalars(select(ReconMatch.note)).one()
    assert note == f"2 candidate(s): {ref(1)}, {ref(2)}"


def test_two_equal_lines_for_one_intent_go_to_a_person(db: Session, mutual: Mutual) -> None:
    """Both ways: the intent has two candidate lines, so neither line is paired with it."""
    made = pending(db, mutual, 1)
    result = reconcile(
        db,
        mutual,
        f"P-8,,{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 09:20,0",
        f"P-9,,{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 09:40,0",
    )
    assert result == {"txn:P-8": ("missing_in_ledger", 4), "txn:P-9": ("missing_in_ledger", 4)}
    assert made.state == "PENDING"


def test_reference_wins_over_phone(db: Session, mutual: Mutual) -> None:
    """A line with our reference is tier 1 even when the phone would fit another intent."""
    pending(db, mutual, 1)
    pending(db, mutual, 2, msisdn=phone(1))
    result = reconcile(db, mutual, f"P-9,{ref(2)},{phone(1)},6000,XOF,SUCCEEDED,2026-11-24 09:30,0")
    assert result == {"txn:P-9": ("missing_in_ledger", 1)}


def test_a_failed_line_closes_a_pending_intent(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    result = reconcile(db, mutual, f"P-1,{ref(1)},,6000,XOF,FAILED,2026-11-24 09:30,")
    assert result == {"txn:P-1": ("matched", 1)} and made.state == "FAILED"


def test_a_failed_line_against_a_credited_intent_is_a_mismatch(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    result = reconcile(db, mutual, f"P-1,{ref(1)},,6000,XOF,FAILED,2026-11-24 09:30,")
    assert result == {"txn:P-1": ("amount_mismatch", 1)}
    assert made.state == "SUCCEEDED"


def test_a_credited_amount_other_than_the_line_is_a_mismatch(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    result = reconcile(db, mutual, f"P-1,{ref(1)},,5000,XOF,SUCCEEDED,2026-11-24 09:30,")
    assert result == {"txn:P-1": ("amount_mismatch", 1)}


def intent_rows(db: Session) -> list[tuple[str, str | None]]:
    return [(row.bucket, row.action) for row in db.scalars(select(ReconMissing))]


def test_missing_in_statement_is_expected_within_the_lag_then_overdue(
    db: Session, mutual: Mutual
) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 23:00,0")
    assert intent_rows(db) == [("missing_in_statement", "expected")]
    # Three days later the provider's statements still have no line for it.
    later = HEADER + "Z-2,,,100,XOF,SUCCEEDED,2026-11-27 12:00,0\n"
    import_and_reconcile(
        db, mutual, "sandbox", later.encode(), filename="l", now=NOW + dt.timedelta(days=3)
    )
    from gateway.services.reconciliation.reconcile import reconcile_days

    reconcile_days(db, mutual, "sandbox", [dt.date(2026, 11, 24)])
    assert intent_rows(db) == [("missing_in_statement", "overdue")]


@pytest.mark.parametrize("at_once", [0, 1, 10])
def test_missing_rows_are_the_same_read_first_or_written_in_one_statement(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:

    from gateway.services.reconciliation import match

    monkeypatch.setattr(match, "MISSING_AT_ONCE", at_once)
    for n in (1, 2):
        succeed(db, pending(db, mutual, n), f"P-{n}", AT)
    reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 23:00,0")
    rows = [(r.intent_id, r.day, r.action) for r in db.scalars(select(ReconMissing))]
    ids = sorted(db.scalars(select(PaymentIntent.id)))
    assert sorted(rows) == [(i, dt.date(2026, 11, 24), "expected") for i in ids]


def test_a_line_on_the_next_day_clears_the_missing_row(db: Session, mutual: Mutual) -> None:
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", dt.datetime(2026, 11, 24, 23, 59, tzinfo=dt.UTC))
    reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 23:00,0")
    assert intent_rows(db) == [("missing_in_statement", "expected")]
    result = reconcile(db, mutual, f"P-1,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-25 00:01,0")
    assert result["txn:P-1"] == ("matched", 1) and intent_rows(db) == []


def test_a_tier2_line_on_an_intent_with_a_tier1_line_is_a_duplicate(
    db: Session, mutual: Mutual
) -> None:
    """Tiers 2 to 4 only look at the lines tier 1 left: an intent tier 1 paired is taken."""
    made = pending(db, mutual, 1)
    succeed(db, made, "P-1", AT)
    result = reconcile(
        db,
        mutual,
        f"X-1,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-24 09:01,0",
        "P-1,,,6000,XOF,SUCCEEDED,2026-11-24 09:02,0",
    )
    assert result == {"txn:X-1": ("matched", 1), "txn:P-1": ("duplicate", 2)}


def test_a_line_placed_by_an_earlier_run_is_not_placed_again(db: Session, mutual: Mutual) -> None:
    """Unknown money of a first run stays where it went, even if a later intent would fit."""
    assert reconcile(db, mutual, "P-7,,,6000,XOF,SUCCEEDED,2026-11-24 09:00,0") == {
        "txn:P-7": ("missing_in_ledger", None)
    }
    succeed(db, pending(db, mutual, 7), "P-7", AT)
    assert reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 23:00,0") == {
        "txn:P-7": ("missing_in_ledger", None),
        "txn:Z-1": ("missing_in_ledger", None),
    }


def test_matching_again_before_acting_leaves_earlier_rows_alone(
    db: Session, mutual: Mutual
) -> None:
    """Tiers 2 to 4 look only at this run's unplaced lines, not at rows awaiting action."""
    from gateway.services.reconciliation.match import Scope, match
    from gateway.services.reconciliation.statement_import import import_statement

    data = (HEADER + "P-7,,,6000,XOF,SUCCEEDED,2026-11-24 09:00,0\n").encode()
    import_statement(db, mutual, "sandbox", data, filename="t.csv", now=NOW)
    scope = Scope(mutual.id, "sandbox", (dt.date(2026, 11, 24),))
    match(db, scope)
    succeed(db, pending(db, mutual, 7), "P-7", AT)
    match(db, scope)
    lines = select(ReconMatch.bucket, ReconMatch.tier, ReconMatch.action)
    assert db.execute(lines).all() == [("missing_in_ledger", None, None)]


def test_missing_rows_are_recomputed_after_acting_only_when_a_status_was_applied(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.services.reconciliation import effects, match

    calls: list[object] = []
    refresh = match.refresh_missing

    def counted(session: Session, scope: match.Scope, lag_hours: int) -> None:
        calls.append((scope, lag_hours))
        refresh(session, scope, lag_hours)

    monkeypatch.setattr(effects, "refresh_missing", counted)
    reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 09:00,0")  # suspense only
    assert calls == []
    made = pending(db, mutual, 1)  # a lost callback: the line's status is applied
    reconcile(db, mutual, f"X-1,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-24 09:01,0")
    assert made.state == "SUCCEEDED" and len(calls) == 1


@pytest.mark.parametrize("bulk", [0, 20_000])
def test_tier2_by_intent_in_chunks_or_in_one_statement(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch, bulk: int
) -> None:
    """Many tier-2 lines (a statement mostly without our reference) are placed in one
    statement over the scope; a few, by whole intents: the same results."""

    from gateway.services.reconciliation import match

    monkeypatch.setattr(match, "TIER2_IN_BULK", bulk)
    first, second = pending(db, mutual, 1), pending(db, mutual, 2)
    succeed(db, first, "P-1", AT)
    succeed(db, second, "P-2", AT)
    result = reconcile(
        db,
        mutual,
        f"X-2,{ref(2)},,6000,XOF,SUCCEEDED,2026-11-24 09:01,0",
        "P-1,,,6000,XOF,SUCCEEDED,2026-11-24 09:02,0",
        "P-2,,,6000,XOF,SUCCEEDED,2026-11-24 09:03,0",
        "Q-1,,,6000,XOF,SUCCEEDED,2026-11-24 09:04,0",
    )
    assert result == {
        "txn:X-2": ("matched", 1),
        "txn:P-1": ("matched", 2),
        "txn:P-2": ("duplicate", 2),
        "txn:Q-1": ("missing_in_ledger", None),
    }


def test_settlement_per_file_and_day_skips_a_day_of_failed_lines(
    db: Session, mutual: Mutual
) -> None:
    """Settlement (Dr bank + fees / Cr float) comes from the import's totals per file and
    day: the collected lines' gross and fees; a day whose lines all failed moves nothing."""
    reconcile(
        db,
        mutual,
        "S-1,,,6000,XOF,SUCCEEDED,2026-11-24 09:00,60",
        "S-2,,,3000,XOF,FAILED,2026-11-24 09:30,0",
        "S-3,,,5000,XOF,FAILED,2026-11-25 08:00,0",
    )
    settled = db.scalars(
        select(LedgerTransaction.idempotency_key).where(LedgerTransaction.kind == "settlement")
    ).all()
    assert [key.rsplit(":", 1)[1] for key in settled] == ["2026-11-24"]
    assert posting.balance(db, mutual.id, "asset:bank") == 5940
    assert posting.balance(db, mutual.id, "expense:provider_fees") == 60
    # S-1 is unknown money: held in suspense (Dr float), then settled out of the float.
    assert posting.balance(db, mutual.id, "asset:float:sandbox") == 0


@pytest.mark.parametrize("hashed", [True, False])
def test_a_tier1_line_on_an_intent_placed_by_an_earlier_run_is_a_duplicate(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch, hashed: bool
) -> None:
    """Whether tier 1 hashes the intents that have a result (few results) or looks each one
    up (many): a second collection on an intent matched yesterday is a duplicate."""

    from gateway.services.reconciliation import match

    monkeypatch.setattr(match, "_few_results", lambda session: hashed)
    succeed(db, pending(db, mutual, 1), "P-1", AT)
    first = reconcile(db, mutual, f"X-1,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-24 09:01,0")
    assert first == {"txn:X-1": ("matched", 1)}
    again = reconcile(db, mutual, f"X-2,{ref(1)},,6000,XOF,SUCCEEDED,2026-11-24 19:00,0")
    assert again == {"txn:X-1": ("matched", 1), "txn:X-2": ("duplicate", 1)}


@pytest.mark.postgres
def test_tier1_stops_hashing_the_taken_intents_once_results_are_many(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past FEW_RESULTS (PostgreSQL's estimate), the set of intents with a result would not
    fit in memory: tier 1 then looks each intent up instead."""
    from sqlalchemy import text

    from gateway.services.reconciliation import match

    reconcile(db, mutual, "Z-1,,,100,XOF,SUCCEEDED,2026-11-24 09:00,0")
    db.execute(text("ANALYZE recon_matches"))
    assert match._few_results(db)
    monkeypatch.setattr(match, "FEW_RESULTS", 1)
    assert not match._few_results(db)
