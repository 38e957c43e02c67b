"""Golden reconciliation day (payments.md, "Reconciliation"): every statement line and every
intent in exactly one bucket, the tier stored, the float against the statement, and a report
that is byte-identical on a rerun, on a re-import and on a reordered file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import (
    LedgerTransaction,
    Mutual,
    PaymentIntent,
    ReconMatch,
    ReconMissing,
    StatementLine,
    SuspenseItem,
)
from gateway.services.ledger import posting
from gateway.services.reconciliation.reconcile import import_and_reconcile, reconcile_days
from gateway.services.reconciliation.report import as_json, as_text, build_report
from tests.support.reconciliation import DAY, STATEMENTS, golden_day, ref

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
FILE = STATEMENTS / "sandbox_2026-11-24.csv"
REORDERED = STATEMENTS / "sandbox_2026-11-24_reordered.csv"


def run(db: Session, path: Path = FILE) -> tuple[Mutual, dict[str, PaymentIntent]]:
    mutual, intents = golden_day(db)
    import_and_reconcile(db, mutual, "sandbox", path.read_bytes(), filename=path.name, now=NOW)
    db.flush()
    return mutual, intents


def results(db: Session) -> dict[str | None, tuple[str, int | None, str | None]]:
    rows = db.execute(
        select(
            StatementLine.provider_txn_id, ReconMatch.bucket, ReconMatch.tier, ReconMatch.action
        ).join(ReconMatch, ReconMatch.line_id == StatementLine.id)
    )
    return {txn: (bucket, tier, action) for txn, bucket, tier, action in rows}


def test_every_line_lands_in_one_bucket_with_its_tier(db: Session) -> None:
    run(db)
    assert results(db) == {
        "TX-A": ("matched", 1, "none"),
        "TX-B": ("matched", 2, "none"),
        "TX-C": ("matched", 3, "none"),
        "TX-D": ("missing_in_ledger", 1, "applied"),
        "TX-F": ("amount_mismatch", 1, "mismatch"),
        "TX-G": ("missing_in_ledger", None, "suspense"),
        "TX-A2": ("duplicate", 1, "suspense"),
        "TX-H": ("missing_in_ledger", 4, "suspense"),
        "TX-J": ("matched", 1, "failed"),
    }


def test_lost_callback_is_applied_and_unknown_money_held(db: Session) -> None:
    _, intents = run(db)
    assert intents["D"].state == "SUCCEEDED" and intents["D"].payment_id is not None
    assert intents["D"].completed_at is not None and intents["D"].completed_at.date() == DAY
    assert intents["F"].flag == "amount_mismatch" and intents["F"].payment_id is None
    assert intents["J"].state == "FAILED"
    assert intents["H1"].state == "PENDING" and intents["H2"].state == "PENDING"
    held = {
        s.provider_txn_id: (s.reason, s.amount, s.mutual_id)
        for s in db.scalars(select(SuspenseItem))
    }
    mutual_id = intents["A"].mutual_id
    assert held == {
        "TX-F": ("amount_mismatch", 5000, mutual_id),
        "TX-G": ("unknown_reference", 3000, mutual_id),
        "TX-A2": ("duplicate", 6000, mutual_id),
        "TX-H": ("ambiguous", 6000, mutual_id),
    }


def test_buckets_add_up_and_the_float_agrees(db: Session) -> None:
    mutual, _ = run(db)
    report = build_report(db, mutual, "sandbox", DAY)
    buckets = report["buckets"]
    assert report["lines"] == 9 == sum(b["lines"] for b in buckets.values())
    assert report["intents"] == 7 == sum(b["intents"] for b in buckets.values())
    assert {k: v["count"] for k, v in buckets.items()} == {
        "matched": 4,
        "missing_in_ledger": 3,
        "missing_in_statement": 1,
        "amount_mismatch": 1,
        "duplicate": 1,
    }
    assert buckets["missing_in_statement"]["amount"] == 6000
    assert report["tiers"] == {"1": 5, "2": 1, "3": 1, "4": 1, "none": 1}
    assert report["statement"] == {
        "lines": 9,
        "collected": 44000,
        "failed_lines": 1,
        "fees": 440,
        "net": 43560,
    }
    # E was credited and is not on the statement yet: that is the whole difference.
    assert report["float"] == {"opening": 0, "closing": 6000, "movement": 6000}
    assert report["difference"] == 6000 and report["unexplained"] == 0
    missing = [e for e in report["exceptions"] if e["bucket"] == "missing_in_statement"]
    assert [(e["reference"], e["action"], e["effect"]) for e in missing] == [
        (ref(5), "expected", 6000)
    ]
    assert posting.balance(db, mutual.id, "asset:bank") == 43560
    assert posting.balance(db, mutual.id, "expense:provider_fees") == 440


def test_rerun_and_reimport_add_nothing_and_give_the_same_bytes(db: Session) -> None:
    mutual, _ = run(db)
    first = as_json(build_report(db, mutual, "sandbox", DAY)) + as_text(
        build_report(db, mutual, "sandbox", DAY)
    )
    counts = [
        db.scalar(select(func.count()).select_from(m))
        for m in (StatementLine, ReconMatch, ReconMissing, LedgerTransaction, SuspenseItem)
    ]
    again, _ = import_and_reconcile(db, mutual, "sandbox", FILE.read_bytes(), filename="x", now=NOW)
    assert again.already_imported and again.added == 0
    reconcile_days(db, mutual, "sandbox", [DAY])
    reordered, _ = import_and_reconcile(
        db, mutual, "sandbox", REORDERED.read_bytes(), filename="r", now=NOW
    )
    assert not reordered.already_imported and (reordered.added, reordered.skipped) == (0, 9)
    after = [
        db.scalar(select(func.count()).select_from(m))
        for m in (StatementLine, ReconMatch, ReconMissing, LedgerTransaction, SuspenseItem)
    ]
    assert after == counts
    report = build_report(db, mutual, "sandbox", DAY)
    assert as_json(report) + as_text(report) == first


def test_a_reordered_file_gives_a_byte_identical_report(
    db: Session, session_factory: sessionmaker[Session]
) -> None:
    mutual, _ = run(db)
    first = as_json(build_report(db, mutual, "sandbox", DAY))
    text = as_text(build_report(db, mutual, "sandbox", DAY))
    db.rollback()
    mutual, _ = run(db, REORDERED)
    report = build_report(db, mutual, "sandbox", DAY)
    assert as_json(report) == first and as_text(report) == text
