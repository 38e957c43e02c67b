"""The recent-ledger audit (issue 19; payments.md, "Ledger"): the full audit's invariants on
what changed since its last run, so that it can run every few minutes at any ledger size; a
tampered entry is found by the next run of either audit."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Account, LedgerAuditMark, Mutual
from gateway.services import ledger
from gateway.services.ledger import posting
from tests.support.factories import make_mutual
from tests.support.ledger import DAY, pay, tamper

LATER = dt.timedelta(hours=2)  # past the settle window: the mark passes every row


def later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + LATER


def audited(db: Session, now: dt.datetime | None = None) -> ledger.RecentAudit:
    run = ledger.audit_recent(db, now=now or later())
    db.commit()
    return run


def texts(run: ledger.RecentAudit) -> list[str]:
    return [breach.text for breach in run.breaches]


def test_a_clean_ledger_passes_and_the_mark_moves_past_settled_rows(
    db: Session, mutual: Mutual
) -> None:
    pay(db, mutual, 7, 6000, "pay:R1")
    last = pay(db, mutual, 8, 100, "pay:R2")
    db.commit()
    first = audited(db)
    assert (first.breaches, first.since, first.mark, first.rechecked) == ([], 0, last.id, 0)
    second = audited(db)
    assert (second.since, second.mark, second.rechecked) == (last.id, last.id, 0)
    mark = db.get_one(LedgerAuditMark, "recent")
    assert mark.entry_id == max(e.id for e in last.entries)


def test_young_transactions_stay_above_the_mark(db: Session, mutual: Mutual) -> None:
    """Ids are handed out before commit: the mark only passes rows older than the settle
    window, so a transaction still being committed is audited by a later run."""
    pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    run = audited(db, now=dt.datetime.now(dt.UTC))
    assert (run.since, run.mark) == (0, 0)


def test_a_tampered_old_entry_is_found_by_the_next_run_of_either_audit(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    old = pay(db, mutual, 7, 6000, "pay:R1")
    pay(db, mutual, 8, 100, "pay:R2")
    db.commit()
    assert audited(db).breaches == []
    tamper(engine, "UPDATE ledger_entries SET amount = 60000 WHERE id = :id", id=old.entries[0].id)
    run = audited(db)
    found = texts(run)
    assert run.rechecked == 1 and len(found) == 2
    assert all(f"#{old.id} 'pay:R1' (mutual MUT)" in line for line in found)
    assert "unbalanced: entries sum to 54000" in found[0] and "fingerprint" in found[1]
    assert found == ledger.audit(db)  # the full audit words it the same
    assert audited(db).breaches == []  # seen once: the hold it sets is what stays


def test_an_entry_added_to_an_old_transaction_is_found(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    """Inserts pass the append-only triggers: an entry above the entry mark whose transaction
    is below the transaction mark is audited again."""
    old = pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    audited(db)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount) VALUES (:t, :a, 5)"
            ),
            {"t": old.id, "a": old.entries[0].account_id},
        )
    found = texts(audited(db))
    assert len(found) == 2 and "unbalanced: entries sum to 5" in found[0]


def test_a_deleted_entry_is_found(db: Session, mutual: Mutual, engine: Engine) -> None:
    old = pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    audited(db)
    tamper(engine, "DELETE FROM ledger_entries WHERE id = :id", id=old.entries[1].id)
    found = texts(audited(db))
    assert any(f"#{old.id} 'pay:R1'" in line and "unbalanced" in line for line in found)
    assert any("fingerprint" in line for line in found)


def test_a_renamed_account_breaks_its_transactions_fingerprints(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    """An account's name is part of every fingerprint it appears in: renaming it re-audits
    all of its transactions, however old."""
    first = pay(db, mutual, 7, 6000, "pay:R1")
    second = pay(db, mutual, 8, 100, "pay:R2")
    db.commit()
    audited(db)
    float_id = db.scalars(select(Account.id).where(Account.name == "asset:float:sandbox")).one()
    db.rollback()
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_accounts SET name = 'asset:float:other' WHERE id = :id"),
            {"id": float_id},
        )
    run = audited(db)
    assert run.rechecked == 2
    assert [line.split(" ")[1] for line in texts(run)] == [f"#{first.id}", f"#{second.id}"]


def test_an_entry_moved_to_another_mutual_is_found(
    db: Session, mutual: Mutual, engine: Engine
) -> None:
    other = make_mutual(db, code="OTHER")
    pay(db, other, 9, 50, "pay:O1")
    old = pay(db, mutual, 7, 6000, "pay:R1")
    db.commit()
    audited(db)
    foreign = db.scalars(
        select(Account.id).where(Account.mutual_id == other.id, Account.name.like("asset:%"))
    ).one()
    entry_id = old.entries[0].id
    db.rollback()
    tamper(
        engine, "UPDATE ledger_entries SET account_id = :a WHERE id = :id", a=foreign, id=entry_id
    )
    run = audited(db)
    cross = [b for b in run.breaches if "uses account" in b.text]
    assert len(cross) == 1 and set(cross[0].mutual_ids) == {mutual.id, other.id}


def test_negative_household_credit_in_new_postings_is_found(db: Session, mutual: Mutual) -> None:
    pay(db, mutual, 7, 1000, "pay:1")
    db.commit()
    audited(db)
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:1",
        kind="allocation",
        occurred_on=DAY,
        lines=[("liab:household:7", 1500), ("income:contributions", -1500)],
    )
    db.commit()
    assert texts(audited(db)) == [
        "account 'liab:household:7' (mutual MUT) has negative household credit -500"
    ]


def test_check_recent_holds_and_reports_like_check(
    db: Session, mutual: Mutual, engine: Engine, cli_env: dict[str, str]
) -> None:
    txn = pay(db, mutual, 7, 100, "pay:2")
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=txn.entries[0].id)
    runner = CliRunner()
    result = runner.invoke(main, ["ledger", "check", "--recent"], env=cli_env)
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 2
    assert "ledger check failed: 2 breach(es)" in result.stderr
    report = json.loads(
        runner.invoke(main, ["ledger", "check", "--recent", "--json"], env=cli_env).stdout
    )
    assert report["ok"] is False and report["since"] == 0 and len(report["breaches"]) == 2
    db.expire_all()
    assert ledger.on_hold(db, mutual.id)


def test_check_recent_on_a_clean_ledger(
    db: Session, mutual: Mutual, cli_env: dict[str, str]
) -> None:
    pay(db, mutual, 7, 100, "pay:2")
    db.commit()
    result = CliRunner().invoke(main, ["ledger", "check", "--recent"], env=cli_env)
    assert (result.exit_code, result.stdout) == (
        0,
        "ledger ok: transactions after #0 and 0 older one(s)\n",
    )
