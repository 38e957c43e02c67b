"""Statement import (payments.md, "Reconciliation"): the generic layout and the CinetPay and
MTN MoMo exports; idempotent by file hash and natural key; every bad line listed, nothing kept."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import ImportErrors
from gateway.models import Mutual, StatementDay, StatementFile, StatementLine
from gateway.services.reconciliation.statement_formats import parse_statement
from gateway.services.reconciliation.statement_import import import_statement
from tests.support.reconciliation import STATEMENTS, ref

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
HEADER = "provider_txn_id,reference,msisdn,amount,currency,status,occurred_at,fee\n"


def lines(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(StatementLine)) or 0


def test_cinetpay_export_is_read_with_its_mapping() -> None:
    data = (STATEMENTS / "cinetpay_2026-11-24.csv").read_bytes()
    statement = parse_statement(data, "cinetpay", "BF")
    assert statement.layout.name == "cinetpay" and statement.repeats == []
    first, second = statement.rows
    assert (first.reference, first.provider_txn_id, first.msisdn) == (
        ref(1),
        "MP261124.1001.A00001",
        "+22670000001",
    )
    assert (first.amount, first.fee, first.status) == (6000, 90, "SUCCEEDED")
    assert first.occurred_at == dt.datetime(2026, 11, 24, 10, 1, tzinfo=dt.UTC)
    assert second.status == "FAILED" and first.natural_key == "txn:MP261124.1001.A00001"


def test_mtnmomo_export_is_read_with_its_mapping() -> None:
    data = (STATEMENTS / "mtnmomo_2026-11-24.csv").read_bytes()
    statement = parse_statement(data, "mtnmomo", "BF")
    rows = statement.rows
    assert statement.layout.name == "mtnmomo"
    assert [(r.provider_txn_id, r.reference, r.amount, r.status) for r in rows] == [
        ("1234567890", ref(1), 6000, "SUCCEEDED"),
        ("1234567891", ref(2), 6000, "FAILED"),
    ]
    assert rows[0].msisdn == "+22670000001"


def test_a_bad_file_lists_every_bad_line_and_imports_nothing(db: Session, mutual: Mutual) -> None:
    data = (STATEMENTS / "bad.csv").read_bytes()
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", data, now=NOW)
    errors = caught.value.errors
    assert errors[0].startswith("line 2: amount: must be a whole number of XOF")
    assert errors[1].startswith("line 3: status: unknown status 'PENDING'")
    assert errors[2].startswith("line 4: occurred_at: must be a date and time")
    assert errors[3] == "line 5: currency: must be XOF, got 'EUR'"
    assert errors[4] == (
        "line 7: provider_txn_id: 'TX-5' already on line 6 with other details (amount 6000 -> 5000)"
    )
    assert errors[5] == "line 8: fee: fee 200 is more than the amount 100"
    assert errors[6] == "line 9: row: 6 fields, the header has 8"
    assert errors[7].startswith("line 10: msisdn:")
    assert len(errors) == 8
    assert lines(db) == 0 and db.scalar(select(func.count()).select_from(StatementFile)) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("provider_txn_id,amount\n", "line 1: header: missing column(s)"),
        (HEADER.strip() + ",extra\n", "line 1: header: unknown column(s) extra"),
        (HEADER, "file: no statement line"),
    ],
)
def test_bad_headers_are_refused(db: Session, mutual: Mutual, text: str, reason: str) -> None:
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", text.encode(), now=NOW)
    assert caught.value.errors[0].startswith(reason)


def test_not_utf8_is_refused(db: Session, mutual: Mutual) -> None:
    with pytest.raises(ImportErrors, match="not UTF-8"):
        import_statement(db, mutual, "sandbox", b"\xff\xfe\x00", now=NOW)


def test_same_file_twice_adds_nothing(db: Session, mutual: Mutual) -> None:
    data = (STATEMENTS / "sandbox_2026-11-24.csv").read_bytes()
    first = import_statement(db, mutual, "sandbox", data, now=NOW)
    again = import_statement(db, mutual, "sandbox", data, now=NOW)
    assert (first.added, first.already_imported) == (9, False)
    assert (again.added, again.already_imported, again.file_id) == (0, True, first.file_id)
    assert lines(db) == 9


def test_overlapping_export_adds_only_new_lines(db: Session, mutual: Mutual) -> None:
    one = HEADER + "T1,,,100,XOF,SUCCEEDED,2026-11-24 10:00:00,0\n"
    two = (
        one + "T2,,,200,XOF,SUCCEEDED,2026-11-24 11:00:00,0\n,,,300,XOF,FAILED,2026-11-24 12:00,\n"
    )
    import_statement(db, mutual, "sandbox", one.encode(), now=NOW)
    second = import_statement(db, mutual, "sandbox", two.encode(), now=NOW)
    assert (second.added, second.skipped) == (2, 1)
    keys = set(db.scalars(select(StatementLine.natural_key)))
    assert {"txn:T1", "txn:T2"} < keys and any(k.startswith("line:") for k in keys)


def test_a_line_imported_before_with_other_details_is_a_conflict(
    db: Session, mutual: Mutual
) -> None:
    import_statement(
        db,
        mutual,
        "sandbox",
        (HEADER + "T1,,,100,XOF,SUCCEEDED,2026-11-24 10:00,0\n").encode(),
        now=NOW,
    )
    changed = HEADER + "T1,,,150,XOF,SUCCEEDED,2026-11-24 10:00,0\n"
    with pytest.raises(ImportErrors, match="line 2: provider_txn_id: 'T1' already imported"):
        import_statement(db, mutual, "sandbox", changed.encode(), now=NOW)
    assert lines(db) == 1


def test_unknown_provider_is_refused(db: Session, mutual: Mutual) -> None:
    with pytest.raises(ImportErrors, match="provider: must be one of"):
        import_statement(db, mutual, "paypal", HEADER.encode(), now=NOW)


def test_dates_with_an_offset_are_taken_to_utc(db: Session, mutual: Mutual) -> None:
    text = HEADER + "T1,,,100,XOF,SUCCEEDED,2026-11-24T23:30:00-01:00,0\n"
    result = import_statement(db, mutual, "sandbox", text.encode(), now=NOW)
    assert result.days == [dt.date(2026, 11, 25)]


def totals(db: Session) -> list[tuple[object, ...]]:
    query = select(
        StatementDay.file_id,
        StatementDay.day,
        StatementDay.lines,
        StatementDay.paid,
        StatementDay.collected,
        StatementDay.fees,
        StatementDay.newest_at,
    )
    return [
        tuple(row) for row in db.execute(query.order_by(StatementDay.file_id, StatementDay.day))
    ]


def test_each_file_keeps_its_new_lines_totals_per_day(db: Session, mutual: Mutual) -> None:
    """What settlement posts and the settlement lag's horizon: per file and business day,
    successful lines only in the money, skipped lines counted in the file that brought them."""
    one = HEADER + "T1,,,100,XOF,SUCCEEDED,2026-11-24 10:00:00,5\n"
    two = (
        one
        + "T2,,,200,XOF,SUCCEEDED,2026-11-24 23:59:59,10\n"
        + "T3,,,300,XOF,FAILED,2026-11-24 12:00:00,0\n"
        + "T4,,,400,XOF,SUCCEEDED,2026-11-25 00:00:00,20\n"
    )
    first = import_statement(db, mutual, "sandbox", one.encode(), now=NOW)
    second = import_statement(db, mutual, "sandbox", two.encode(), now=NOW)
    at = dt.datetime
    assert totals(db) == [
        (first.file_id, dt.date(2026, 11, 24), 1, 1, 100, 5, at(2026, 11, 24, 10, tzinfo=dt.UTC)),
        (
            second.file_id,
            dt.date(2026, 11, 24),
            2,
            1,
            200,
            10,
            at(2026, 11, 24, 23, 59, 59, tzinfo=dt.UTC),
        ),
        (second.file_id, dt.date(2026, 11, 25), 1, 1, 400, 20, at(2026, 11, 25, tzinfo=dt.UTC)),
    ]
    L = StatementLine
    by_lines = select(L.file_id, L.day, func.count(), func.max(L.occurred_at)).group_by(
        L.file_id, L.day
    )
    kept = {(f, d): (n, newest) for f, d, n, newest in db.execute(by_lines)}
    assert kept == {(f, d): (n, newest) for f, d, n, _, _, _, newest in totals(db)}


def test_the_same_file_twice_keeps_one_set_of_totals(db: Session, mutual: Mutual) -> None:
    data = (STATEMENTS / "sandbox_2026-11-24.csv").read_bytes()
    import_statement(db, mutual, "sandbox", data, now=NOW)
    once = totals(db)
    import_statement(db, mutual, "sandbox", data, now=NOW)
    assert totals(db) == once
    assert db.scalar(select(func.sum(StatementDay.lines))) == 9


def test_the_generic_layout_reads_the_sandbox_word_for_success(db: Session, mutual: Mutual) -> None:
    """The sandbox provider says SUCCESSFUL (payments.md, its callback); its statement may too."""
    text = (
        HEADER
        + "T1,,,100,XOF,successful,2026-11-24 10:00,0\nT2,,,100,XOF,FAILED,2026-11-24 11:00,0\n"
    )
    import_statement(db, mutual, "sandbox", text.encode(), now=NOW)
    statuses = db.scalars(select(StatementLine.status).order_by(StatementLine.line_no)).all()
    assert statuses == ["SUCCEEDED", "FAILED"]
