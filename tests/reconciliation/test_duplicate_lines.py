"""A line repeated inside one statement file (payments.md, "Reconciliation": import is
idempotent by each line's natural key; every statement line lands in exactly one bucket).

Word for word (same natural key, same details once read): skipped like a line already
imported from an overlapping file, counted by the import and in the report's duplicate
bucket, moving no money. The same provider transaction id with other details is still a bad
line: the file imports nothing and says what differs."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import ImportErrors
from gateway.models import Mutual, StatementDay, StatementLine, StatementRepeat
from gateway.services.ledger import posting
from gateway.services.reconciliation.reconcile import import_and_reconcile
from gateway.services.reconciliation.report import as_json, as_text, build_report
from gateway.services.reconciliation.statement_import import import_statement
from tests.support.reconciliation import DAY, STATEMENTS, golden_day

Invoke = Callable[..., Result]
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
HEADER = "provider_txn_id,reference,msisdn,amount,currency,status,occurred_at,fee\n"
T1 = "T1,,+22670000001,100,XOF,SUCCEEDED,2026-11-24 10:00:00,0\n"
T2 = "T2,,,200,XOF,SUCCEEDED,2026-11-24 11:00:00,0\n"
NO_ID = ",,,300,XOF,FAILED,2026-11-24 12:00,\n"
FILE = STATEMENTS / "sandbox_2026-11-24.csv"
REPEATED = STATEMENTS / "sandbox_2026-11-24_repeated.csv"  # FILE + line 3 (TX-B) again


def count(db: Session, model: type[object]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def repeats(db: Session) -> list[tuple[str, int, int, int]]:
    R = StatementRepeat
    query = select(R.natural_key, R.occurrence, R.line_no, R.first_line_no).order_by(R.id)
    return [tuple(row) for row in db.execute(query)]  # type: ignore[misc]


def test_an_exact_repeat_is_skipped_and_counted(db: Session, mutual: Mutual) -> None:
    data = HEADER + T1 + T2 + T1 + NO_ID + NO_ID + T1
    result = import_statement(db, mutual, "sandbox", data.encode(), now=NOW)
    assert (result.added, result.skipped, result.duplicates) == (3, 0, 3)
    assert count(db, StatementLine) == 3
    no_id = db.scalars(select(StatementLine.natural_key).where(StatementLine.amount == 300)).one()
    assert repeats(db) == [("txn:T1", 2, 4, 2), (no_id, 2, 6, 5), ("txn:T1", 3, 7, 2)]
    # The statement's own figures count each transaction once.
    assert db.scalar(select(func.sum(StatementDay.collected))) == 300


def test_the_same_values_written_otherwise_are_the_same_line(db: Session, mutual: Mutual) -> None:
    other = "T1,,70 00 00 01,100.00,xof,SUCCEEDED,2026-11-24T10:00:00Z,\n"
    result = import_statement(db, mutual, "sandbox", (HEADER + T1 + other).encode(), now=NOW)
    assert (result.added, result.duplicates) == (1, 1)


@pytest.mark.parametrize(
    ("changed", "what"),
    [
        ("T1,,+22670000001,150,XOF,SUCCEEDED,2026-11-24 10:00:00,0\n", "amount 100 -> 150"),
        ("T1,,+22670000001,100,XOF,FAILED,2026-11-24 10:00:00,0\n", "status SUCCEEDED -> FAILED"),
        (
            "T1,R9,,100,XOF,SUCCEEDED,2026-11-24 10:05:00,0\n",
            "reference (empty) -> R9; msisdn +22670000001 -> (empty); "
            "occurred_at 2026-11-24T10:00:00+00:00 -> 2026-11-24T10:05:00+00:00",
        ),
    ],
)
def test_the_same_id_with_other_details_is_still_a_bad_line(
    db: Session, mutual: Mutual, changed: str, what: str
) -> None:
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", (HEADER + T1 + T2 + changed).encode(), now=NOW)
    assert caught.value.errors == [
        f"line 4: provider_txn_id: 'T1' already on line 2 with other details ({what})"
    ]
    assert count(db, StatementLine) == 0 and count(db, StatementRepeat) == 0


def test_a_conflict_with_an_earlier_file_names_what_differs(db: Session, mutual: Mutual) -> None:
    import_statement(db, mutual, "sandbox", (HEADER + T1).encode(), now=NOW)
    changed = T1.replace(",100,", ",150,")
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", (HEADER + changed + changed).encode(), now=NOW)
    assert caught.value.errors == [
        "line 2: provider_txn_id: 'T1' already imported with other details (amount 100 -> 150)"
    ]


def test_a_cinetpay_conflict_names_the_export_column(db: Session, mutual: Mutual) -> None:
    lines = (STATEMENTS / "cinetpay_2026-11-24.csv").read_text().splitlines()
    header, first = lines[0], lines[1]
    data = "\n".join([header, first, first.replace("6000", "6500", 1)]) + "\n"
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "cinetpay", data.encode(), now=NOW)
    assert caught.value.errors[0].startswith(
        "line 3: ID operateur: 'MP261124.1001.A00001' already on line 2 with other details"
    )


def test_overlapping_files_repeating_a_line_keep_one_repeat(db: Session, mutual: Mutual) -> None:
    import_statement(db, mutual, "sandbox", (HEADER + T1 + T1).encode(), now=NOW)
    again = import_statement(db, mutual, "sandbox", (HEADER + T2 + T1 + T1).encode(), now=NOW)
    assert (again.added, again.skipped, again.duplicates) == (1, 1, 1)
    assert [(key, n) for key, n, _, _ in repeats(db)] == [("txn:T1", 2)]
    third = import_statement(db, mutual, "sandbox", (HEADER + T1 + T1 + T1).encode(), now=NOW)
    assert (third.added, third.skipped, third.duplicates) == (0, 1, 2)
    assert [(key, n) for key, n, _, _ in repeats(db)] == [("txn:T1", 2), ("txn:T1", 3)]


def test_the_report_counts_the_repeat_as_a_duplicate_moving_no_money(db: Session) -> None:
    mutual, _ = golden_day(db)
    import_and_reconcile(db, mutual, "sandbox", FILE.read_bytes(), filename="a.csv", now=NOW)
    plain = build_report(db, mutual, "sandbox", DAY)
    db.rollback()
    mutual, _ = golden_day(db)
    imported, _ = import_and_reconcile(
        db, mutual, "sandbox", REPEATED.read_bytes(), filename="b.csv", now=NOW
    )
    assert (imported.added, imported.duplicates) == (9, 1)
    report = build_report(db, mutual, "sandbox", DAY)
    assert report["lines"] == plain["lines"] + 1 == 10
    assert report["lines"] == sum(b["lines"] for b in report["buckets"].values())
    duplicate, before = report["buckets"]["duplicate"], plain["buckets"]["duplicate"]
    assert (duplicate["count"], duplicate["lines"], duplicate["intents"]) == (2, 2, 0)
    assert (before["count"], before["intents"]) == (1, 0)  # TX-A2, a second collection
    assert duplicate["amount"] == before["amount"] + 6000
    assert report["tiers"]["none"] == plain["tiers"]["none"] + 1
    for same in ("statement", "float", "difference", "explained", "unexplained", "intents"):
        assert report[same] == plain[same]
    (repeat,) = [e for e in report["exceptions"] if e["action"] == "skipped"]
    assert repeat == {
        "bucket": "duplicate",
        "key": "txn:TX-B#2",
        "reference": None,
        "tier": None,
        "status": "SUCCEEDED",
        "amount": 6000,
        "intent_amount": None,
        "action": "skipped",
        "suspense": None,
        "note": "the same line again in a statement file",
        "effect": 0,
    }
    assert "  duplicate            txn:TX-B#2" in as_text(report)
    assert posting.balance(db, mutual.id, "asset:bank") == 43560  # settled once


def test_the_report_is_byte_identical_whatever_the_order(db: Session) -> None:
    mutual, _ = golden_day(db)
    import_and_reconcile(db, mutual, "sandbox", REPEATED.read_bytes(), filename="r", now=NOW)
    first = as_json(build_report(db, mutual, "sandbox", DAY))
    db.rollback()
    mutual, _ = golden_day(db)
    lines = REPEATED.read_text().splitlines(keepends=True)
    moved = "".join([lines[0], lines[-1], *lines[1:-1]])  # the repeat first, the original last
    import_and_reconcile(db, mutual, "sandbox", moved.encode(), filename="m", now=NOW)
    assert as_json(build_report(db, mutual, "sandbox", DAY)) == first


def test_cli_import_and_report(run: Invoke, golden: None) -> None:
    where = ("--provider", "sandbox", "--mutual", "GOLD")
    result = run("import", str(REPEATED), *where)
    assert result.exit_code == 0, result.output
    assert (
        "9 line(s) added, 0 already imported from another file, "
        "1 duplicate line(s) in the file skipped" in result.output
    )
    again = run("import", str(REPEATED), *where, "--json")
    assert json.loads(again.output)["already_imported"] is True
    report = json.loads(run("report", *where, "--day", "2026-11-24", "--json").output)
    assert report["buckets"]["duplicate"]["count"] == 2 and report["lines"] == 10
