"""`gateway ledger balance | check | hold | clear | credits` (interfaces.md; payments.md, "Ledger":
a check command audits the invariants, fails on any breach and stops automatic allocation of the
mutuals breached (D7) until an operator clears the hold; household credit listed)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import Alert, Household, LedgerHold, Mutual
from gateway.services import ledger
from gateway.services.coverage import receive_payment
from gateway.services.ledger import posting
from tests.support.factories import make_household, make_mutual
from tests.support.ledger import DAY, pay, tamper

Invoke = Callable[..., Result]


@pytest.fixture
def run(cli_env: dict[str, str]) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["ledger", *args], env=cli_env)

    return invoke


@pytest.fixture
def household(db: Session) -> Household:
    """Household 1001 of MUT with 6 000 XOF received, 2 500 allocated."""
    mutual = make_mutual(db)
    household = make_household(db, mutual, number="1001")
    pay(db, mutual, household.id, 6000, "pay:1")
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:1",
        kind="allocation",
        occurred_on=DAY,
        lines=[(ledger.accounts.household(household.id), 2500), ("income:contributions", -2500)],
    )
    db.commit()
    return household


def test_household_balance_is_its_credit(run: Invoke, household: Household) -> None:
    """Household credit: received, not yet allocated (payments.md)."""
    account = f"liab:household:{household.id}"
    result = run("balance", "--household", "1001")
    assert result.exit_code == 0, result.output
    assert result.output == f"household 1001 (MUT): credit 3500 XOF [{account}]\n"
    result = run("balance", "--household", "1001", "--json")
    assert json.loads(result.output) == {"account": account, "mutual": "MUT", "balance": 3500}


def test_account_balance_is_signed(run: Invoke, household: Household) -> None:
    """Balances are sums of entries, debit positive (payments.md)."""
    result = run("balance", "--account", "asset:float:sandbox", "--json")
    assert json.loads(result.output) == {
        "account": "asset:float:sandbox",
        "mutual": "MUT",
        "balance": 6000,
    }
    result = run("balance", "--account", "income:contributions")
    assert (result.exit_code, result.output) == (0, "income:contributions (MUT): -2500 XOF\n")


@pytest.mark.parametrize(
    "args", [[], ["--household", "1001", "--account", "asset:bank"], ["--account", "bank"]]
)
def test_balance_usage_errors(run: Invoke, household: Household, args: list[str]) -> None:
    """Bad input exits non-zero with a one-line reason (interfaces.md)."""
    result = run("balance", *args)
    assert result.exit_code == 2
    assert "--household" in result.output or "asset|liab" in result.output


def test_unknown_household_fails_with_a_reason(run: Invoke, household: Household) -> None:
    result = run("balance", "--household", "9999")
    assert result.exit_code == 1
    assert "unknown household '9999'" in result.output


def test_ambiguous_number_or_account_needs_the_mutual(
    run: Invoke, db: Session, household: Household
) -> None:
    """Household numbers are unique per mutual only (domain)."""
    other = make_mutual(db, code="OTHER")
    pay(db, other, make_household(db, other, number="1001").id, 700, "pay:1")
    db.commit()
    result = run("balance", "--household", "1001")
    assert result.exit_code == 1
    assert "several mutuals (MUT, OTHER)" in result.output
    result = run("balance", "--household", "1001", "--mutual", "OTHER", "--json")
    assert json.loads(result.output)["balance"] == 700
    result = run("balance", "--account", "asset:bank")
    assert result.exit_code == 1 and "give --mutual" in result.output
    result = run("balance", "--account", "asset:bank", "--mutual", "NOPE")
    assert result.exit_code == 1 and "unknown mutual 'NOPE'" in result.output


def test_check_passes_on_a_clean_ledger(run: Invoke, household: Household) -> None:
    result = run("check")
    assert (result.exit_code, result.output) == (0, "ledger ok: 2 transactions, 4 entries\n")
    report = json.loads(run("check", "--json").output)
    assert report == {"ok": True, "transactions": 2, "entries": 4, "breaches": []}


def test_check_fails_naming_the_breach(
    run: Invoke, db: Session, engine: Engine, household: Household
) -> None:
    """A failed audit alerts (payments.md): exit 1 and one line per breach."""
    mutual = db.get_one(Mutual, household.mutual_id)
    txn = pay(db, mutual, household.id, 100, "pay:2")
    db.commit()
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=txn.entries[0].id)
    result = run("check")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(f"#{txn.id} 'pay:2' (mutual MUT)" in line for line in lines)
    report = json.loads(run("check", "--json").stdout)
    assert report["ok"] is False and report["breaches"] == lines


def tamper_payment(db: Session, engine: Engine, household: Household) -> int:
    """A 100 XOF payment of the household whose entry is edited behind our back; its entry."""
    mutual = db.get_one(Mutual, household.mutual_id)
    txn = pay(db, mutual, household.id, 100, "pay:2")
    db.commit()
    entry = txn.entries[0].id
    tamper(engine, "UPDATE ledger_entries SET amount = 1 WHERE id = :id", id=entry)
    return entry


def test_check_holds_the_breached_mutual(
    run: Invoke, db: Session, engine: Engine, household: Household
) -> None:
    """A failed audit stops automatic allocation and alerts (payments.md): `check` holds the
    mutual with its breaches (output and exit code as before); once, however often it runs."""
    other = make_mutual(db, code="OTHER")
    db.commit()
    tamper_payment(db, engine, household)
    first, second = run("check"), run("check")
    assert first.exit_code == second.exit_code == 1
    assert first.stdout == second.stdout and len(first.stdout.splitlines()) == 2
    db.expire_all()
    assert ledger.on_hold(db, household.mutual_id) and not ledger.on_hold(db, other.id)
    hold = db.scalars(select(LedgerHold)).one()
    assert hold.breaches == first.stdout.splitlines()
    alert = db.scalars(select(Alert)).one()
    assert alert.kind == "ledger_hold" and hold.breaches[0] in alert.detail


def test_hold_shows_the_state_and_the_history(
    run: Invoke, db: Session, engine: Engine, household: Household
) -> None:
    result = run("hold", "--mutual", "MUT")
    assert (result.exit_code, result.output) == (
        0,
        "MUT: ledger not on hold\naudit now: no breach\n",
    )
    entry = tamper_payment(db, engine, household)
    run("check")
    lines = run("hold").output.splitlines()  # one mutual: --mutual may be left out
    assert lines[0].startswith("MUT: ledger ON HOLD since ") and "(hold #1)" in lines[0]
    assert lines[1].startswith("  set by: transaction #") and lines[3] == "audit now: 2 breach(es)"
    tamper(engine, "UPDATE ledger_entries SET amount = 100 WHERE id = :id", id=entry)
    cleared = run("clear", "--mutual", "MUT", "--reason", "restored", "--by", "awa")
    assert cleared.exit_code == 0, cleared.output
    lines = run("hold", "--mutual", "MUT").output.splitlines()
    assert lines[:2] == ["MUT: ledger not on hold", "audit now: no breach"]
    assert lines[2].startswith("hold #1 set ") and lines[2].endswith(" by awa: restored")
    state = json.loads(run("hold", "--mutual", "MUT", "--json").output)
    assert (state["mutual"], state["on_hold"], state["breaches_now"]) == ("MUT", False, [])
    [past] = state["holds"]
    assert (past["id"], past["cleared_by"], past["reason"], past["accepted"]) == (
        1,
        "awa",
        "restored",
        [],
    )
    assert len(past["breaches"]) == 2 and past["set_at"] < past["cleared_at"]


def test_clear_is_refused_while_breaches_remain_unless_forced(
    run: Invoke, db: Session, engine: Engine, household: Household
) -> None:
    """Clearing resumes allocation: refused (one line, exit 1) while the audit still finds
    breaches; --force accepts them, and the next check does not hold the mutual again."""
    tamper_payment(db, engine, household)
    run("check")
    refused = run("clear", "--mutual", "MUT", "--reason", "looked", "--by", "awa")
    assert refused.exit_code == 1
    message = refused.output.strip()
    assert len(message.splitlines()) == 1
    assert "2 breach(es) remain in the ledger of MUT: transaction #" in message
    assert "(and 1 more); fix them, or clear with --force to accept them" in message
    forced = run("clear", "--mutual", "MUT", "--reason", "paper agrees", "--by", "awa", "--force")
    assert forced.exit_code == 0, forced.output
    assert forced.output == (
        "MUT: hold #1 cleared by awa; 0 allocation(s) made, 0 receipt(s) queued; "
        "2 breach(es) accepted\n"
    )
    assert run("check").exit_code == 1  # still reported ...
    db.expire_all()
    assert not ledger.on_hold(db, household.mutual_id)  # ... but accepted
    db.rollback()  # SQLite: one writer at a time
    shown = run("hold", "--json")
    assert shown.exit_code == 0, shown.output
    state = json.loads(shown.output)
    assert state["breaches_now"] == [] and len(state["accepted_now"]) == 2


def test_clear_records_the_os_user(
    run: Invoke, db: Session, household: Household, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.hold(db, household.mutual_id, ["a breach since repaired"], now=dt.datetime.now(dt.UTC))
    db.commit()
    monkeypatch.setattr(getpass, "getuser", lambda: "operator1")
    result = run("clear", "--mutual", "MUT", "--reason", "repaired")
    assert result.exit_code == 0, result.output
    assert "cleared by operator1" in result.output
    db.expire_all()
    assert db.scalars(select(LedgerHold)).one().cleared_by == "operator1"


def test_clear_without_a_user_name_asks_for_by(
    run: Invoke, household: Household, monkeypatch: pytest.MonkeyPatch
) -> None:
    def nobody() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", nobody)
    result = run("clear", "--mutual", "MUT", "--reason", "repaired")
    assert result.exit_code == 2 and "give --by WHO" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mutual", "MUT", "--reason", "ok", "--by", "awa"], "the ledger of MUT is not on hold"),
        (
            ["--mutual", "MUT", "--reason", " ", "--by", "awa"],
            "a reason is required to clear a hold",
        ),
        (["--mutual", "NOPE", "--reason", "ok", "--by", "awa"], "unknown mutual 'NOPE'"),
    ],
)
def test_clear_refusals_are_one_line(
    run: Invoke, household: Household, args: list[str], message: str
) -> None:
    result = run("clear", *args)
    assert result.exit_code == 1 and result.output == f"Error: {message}\n"


@pytest.fixture
def credits(db: Session) -> Mutual:
    """Households of MUT holding credit (two beneficiaries: 12 000 due, so nothing below is
    allocated, D7), one allocated to 0, one credited with no payment row; OTHER's ignored."""
    mutual = make_mutual(db)
    other = make_mutual(db, code="OTHER")
    payments = {
        "H01-1": [(3000, "2026-10-01"), (4000, "2026-11-03")],
        "H01-10": [(7000, "2026-09-01")],
        "H01-2": [(500, "2026-10-05")],
    }
    for number, paid in payments.items():
        household = make_household(db, mutual, members=2, number=number)
        for i, (amount, day) in enumerate(paid):
            receive_payment(
                db,
                household=household,
                amount=amount,
                paid_on=dt.date.fromisoformat(day),
                channel="cash",
                reference=f"{number}-{i}",
            )
    pay(db, mutual, make_household(db, mutual, members=2, number="H01-9").id, 800, "pay:9")
    make_household(db, mutual, members=2, number="H01-3")  # no money
    spent = make_household(db, mutual, members=2, number="H01-4")
    pay(db, mutual, spent.id, 500, "pay:4")
    posting.post(
        db,
        mutual_id=mutual.id,
        key="alloc:4",
        kind="allocation",
        occurred_on=DAY,
        lines=[(ledger.accounts.household(spent.id), 500), ("income:contributions", -500)],
    )
    pay(db, other, make_household(db, other, members=2, number="H01-1").id, 9000, "pay:o")
    db.commit()
    return mutual


def test_credits_lists_households_holding_money(run: Invoke, credits: Mutual) -> None:
    """Household credit (payments.md): largest first, then by number, with the last payment's
    date, and a total; --json a list of {"household", "credit", "last_paid"}."""
    result = run("credits", "--mutual", "MUT")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "H01-1   7 000 XOF  last paid 2026-11-03",
        "H01-10  7 000 XOF  last paid 2026-09-01",
        "H01-9     800 XOF  no payment",
        "H01-2     500 XOF  last paid 2026-10-05",
        "total: 4 household(s), 15 300 XOF",
    ]
    rows = json.loads(run("credits", "--mutual", "MUT", "--json").output)
    assert rows[0] == {"household": "H01-1", "credit": 7000, "last_paid": "2026-11-03"}
    assert [(r["household"], r["credit"], r["last_paid"]) for r in rows[1:]] == [
        ("H01-10", 7000, "2026-09-01"),
        ("H01-9", 800, None),
        ("H01-2", 500, "2026-10-05"),
    ]
    other = json.loads(run("credits", "--mutual", "OTHER", "--json").output)
    assert other == [{"household": "H01-1", "credit": 9000, "last_paid": None}]


def test_credits_of_a_mutual_without_any(run: Invoke, db: Session, credits: Mutual) -> None:
    make_mutual(db, code="EMPTY")
    db.commit()
    assert run("credits", "--mutual", "EMPTY").output == "no household of EMPTY holds credit\n"
    assert run("credits", "--mutual", "EMPTY", "--json").output == "[]\n"
    result = run("credits")
    assert result.exit_code == 1 and "give --mutual CODE" in result.output
