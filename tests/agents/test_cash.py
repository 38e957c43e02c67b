"""Agents' cash (D20, D21) below the USSD screens: collections and their rules, remittance
confirmation (ledger Dr bank / Cr agent_cash, once, never by the declarer, concurrently on
PostgreSQL), the CLI, the cash-age job and the mutual's `cash_max_days`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.cli import main
from gateway.clock import FixedClock
from gateway.models import (
    Agent,
    Alert,
    CashCollection,
    Household,
    LedgerTransaction,
    Mutual,
    Remittance,
    Section,
)
from gateway.services import ledger
from gateway.services.agents.cash import (
    MAX_COLLECTION,
    RECEIPT_ALPHABET,
    CashError,
    cash_position,
    collect_cash,
    new_receipt_code,
)
from gateway.services.agents.registry import add_agent
from gateway.services.agents.remittances import (
    confirm_remittance,
    declare_remittance,
    flag_stale_cash,
    reject_remittance,
)
from gateway.services.ledger import posting
from gateway.services.mutuals.config import ConfigError, load_mutual
from gateway.settings import Settings
from tests.support.factories import make_household, make_mutual
from tests.support.paths import DATA
from worker import jobs
from worker.jobs.agents import agent_cash_age

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
Invoke = Callable[..., Result]
World = tuple[Mutual, Household, Agent, Agent, Agent]


def agents_of(db: Session, mutual: Mutual) -> tuple[Agent, Agent, Agent]:
    collector = add_agent(db, mutual, phone="70000001", name="Ali", role="collector", pin="2580")
    sup = add_agent(db, mutual, phone="70000002", name="Awa", role="supervisor", pin="3690")
    other = add_agent(db, mutual, phone="70000003", name="Issa", role="supervisor", pin="1593")
    return collector, sup, other


@pytest.fixture
def world(db: Session) -> tuple[Mutual, Household, Agent, Agent, Agent]:
    mutual = make_mutual(db)
    household = make_household(db, mutual, members=1, phone="+22676000001")
    collector, sup, other = agents_of(db, mutual)
    db.commit()
    return mutual, household, collector, sup, other


def collect(db: Session, agent: Agent, household: Household, amount: int, key: str) -> int:
    return collect_cash(
        db, agent=agent, household=household, amount=amount, request_key=key, now=T0
    ).collection.id


def test_receipt_codes_are_short_and_unambiguous() -> None:
    codes = {new_receipt_code() for _ in range(500)}
    assert len(codes) > 490
    assert all(len(c) == 6 and set(c) <= set(RECEIPT_ALPHABET) for c in codes)
    assert not set("0O1I") & set(RECEIPT_ALPHABET)


def test_collection_is_once_per_request_key(db: Session, world: World) -> None:
    """D20: the same key (a replayed USSD step) returns the first collection, nothing more."""
    mutual, household, collector, _, _ = world
    first = collect_cash(
        db, agent=collector, household=household, amount=6000, request_key="k1", now=T0
    )
    again = collect_cash(
        db, agent=collector, household=household, amount=6000, request_key="k1", now=T0
    )
    assert first.created and not again.created
    assert again.collection.id == first.collection.id and again.receipt is not None
    assert db.scalar(select(func.count()).select_from(CashCollection)) == 1
    assert posting.balance(db, mutual.id, f"asset:agent_cash:{collector.id}") == 6000


def test_collection_rules(db: Session, world: World) -> None:
    """Positive amounts up to the guard, collectors and supervisors only, own mutual and
    section; a refused collection writes nothing."""
    mutual, household, collector, _, _ = world
    facility = add_agent(db, mutual, phone="70000009", name="Inf", role="facility", pin="7531")
    stranger = make_household(db, make_mutual(db, code="AUTRE"))
    cases = [
        (collector, household, 0, "zero"),
        (collector, household, MAX_COLLECTION + 1, "high"),
        (facility, household, 100, "role"),
        (collector, stranger, 100, "mutual"),
    ]
    for agent, target, amount, reason in cases:
        with pytest.raises(CashError) as caught:
            collect(db, agent, target, amount, f"bad-{reason}")
        assert caught.value.reason == reason
    section = _section(db, mutual, "Nord")
    collector.section_id = section.id
    with pytest.raises(CashError, match="section"):
        collect(db, collector, household, 100, "bad-section")
    household.section_id = section.id
    collect(db, collector, household, 100, "good")
    assert db.scalar(select(func.count()).select_from(CashCollection)) == 1


def _section(db: Session, mutual: Mutual, name: str) -> Section:
    section = Section(name=name)
    mutual.sections.append(section)
    db.flush()
    return section


def test_confirmation_moves_cash_to_the_bank_once(db: Session, world: World) -> None:
    """D21 and payments.md: Dr asset:bank / Cr asset:agent_cash, recorded with who and when;
    confirming again changes nothing."""
    mutual, household, collector, sup, _ = world
    collect(db, collector, household, 9000, "c1")
    remittance, created = declare_remittance(
        db, agent=collector, amount=4000, request_key="r1", now=T0
    )
    assert created and remittance.status == "PENDING"
    assert declare_remittance(db, agent=collector, amount=4000, request_key="r1", now=T0) == (
        remittance,
        False,
    )
    with pytest.raises(CashError, match="above the cash held"):
        declare_remittance(db, agent=collector, amount=5001, request_key="r2", now=T0)
    later = T0 + dt.timedelta(hours=2)
    done = confirm_remittance(db, remittance_id=remittance.id, supervisor=sup, now=later)
    assert done.created
    assert (remittance.status, remittance.confirmed_by_id, remittance.confirmed_at) == (
        "CONFIRMED",
        sup.id,
        later,
    )
    assert posting.balance(db, mutual.id, f"asset:agent_cash:{collector.id}") == 5000
    assert posting.balance(db, mutual.id, "asset:bank") == 4000
    assert not confirm_remittance(db, remittance_id=remittance.id, supervisor=sup, now=T0).created
    assert posting.balance(db, mutual.id, "asset:bank") == 4000
    position = cash_position(db, collector)
    assert (position.collected, position.remitted, position.pending, position.outstanding) == (
        9000,
        4000,
        0,
        5000,
    )
    assert ledger.audit(db) == []


def test_who_may_confirm(db: Session, world: World) -> None:
    """Only an active supervisor of the same mutual, never for their own remittance."""
    _, household, collector, sup, other = world
    collect(db, sup, household, 3000, "c-sup")
    own, _ = declare_remittance(db, agent=sup, amount=3000, request_key="own", now=T0)
    with pytest.raises(CashError, match="own remittance"):
        confirm_remittance(db, remittance_id=own.id, supervisor=sup, now=T0)
    with pytest.raises(CashError, match="not an active supervisor"):
        confirm_remittance(db, remittance_id=own.id, supervisor=collector, now=T0)
    foreign = add_agent(
        db, make_mutual(db, code="AUTRE"), phone="70000008", name="X", role="supervisor", pin="7531"
    )
    with pytest.raises(CashError, match="mutual"):
        confirm_remittance(db, remittance_id=own.id, supervisor=foreign, now=T0)
    with pytest.raises(CashError, match="no remittance"):
        confirm_remittance(db, remittance_id=999, supervisor=other, now=T0)
    assert confirm_remittance(db, remittance_id=own.id, supervisor=other, now=T0).created


def test_a_rejected_remittance_leaves_the_cash_with_the_agent(db: Session, world: World) -> None:
    """D21: a rejection needs a reason, posts nothing and frees the cash for a new
    declaration; a decision is final (no confirming a rejected one, no rejecting a confirmed
    one); rejecting twice changes nothing."""
    mutual, household, collector, sup, other = world
    collect(db, collector, household, 6000, "c1")
    first, _ = declare_remittance(
        db, agent=collector, amount=6000, request_key="r1", now=T0, method="transfer"
    )
    assert first.method == "transfer"
    with pytest.raises(CashError, match="reason"):
        reject_remittance(db, remittance_id=first.id, supervisor=sup, now=T0, reason="  ")
    with pytest.raises(CashError, match="not an active supervisor"):
        reject_remittance(db, remittance_id=first.id, supervisor=collector, now=T0, reason="x")
    later = T0 + dt.timedelta(hours=2)
    done = reject_remittance(
        db, remittance_id=first.id, supervisor=sup, now=later, reason="  not   received "
    )
    assert done.created
    assert (first.status, first.rejected_by_id, first.rejected_at, first.note) == (
        "REJECTED",
        sup.id,
        later,
        "not received",
    )
    again = reject_remittance(db, remittance_id=first.id, supervisor=other, now=T0, reason="y")
    assert not again.created and first.note == "not received"
    with pytest.raises(CashError, match="rejected"):
        confirm_remittance(db, remittance_id=first.id, supervisor=other, now=T0)
    assert posting.balance(db, mutual.id, "asset:bank") == 0
    position = cash_position(db, collector)
    assert (position.pending, position.available, position.outstanding) == (0, 6000, 6000)
    second, _ = declare_remittance(db, agent=collector, amount=6000, request_key="r2", now=T0)
    assert second.method == "deposit"
    confirm_remittance(db, remittance_id=second.id, supervisor=other, now=T0, note="slip 42")
    assert second.note == "slip 42"
    with pytest.raises(CashError, match="already confirmed"):
        reject_remittance(db, remittance_id=second.id, supervisor=sup, now=T0, reason="late")
    with pytest.raises(CashError, match="method"):
        declare_remittance(db, agent=collector, amount=1, request_key="r3", now=T0, method="cash")
    assert posting.balance(db, mutual.id, "asset:bank") == 6000


@pytest.mark.postgres
def test_confirm_and_reject_at_once_make_one_decision(
    session_factory: sessionmaker[Session],
) -> None:
    """Two supervisors, one confirming, one rejecting, at the same moment: the row lock lets
    exactly one decide; the ledger holds the confirmation only if it won."""
    with session_factory() as setup:
        mutual = make_mutual(setup)
        household = make_household(setup, mutual)
        collector, sup, other = agents_of(setup, mutual)
        collect(setup, collector, household, 5000, "c")
        setup.commit()
        ids = (mutual.id, collector.id, sup.id, other.id)
    for round_ in range(3):
        with session_factory() as session:
            agent = session.get_one(Agent, ids[1])
            remittance, _ = declare_remittance(
                session, agent=agent, amount=1000, request_key=f"r{round_}", now=T0
            )
            session.commit()
            remittance_id = remittance.id
        outcomes = _decide_at_once(session_factory, remittance_id, ids[2], ids[3])
        assert sorted(outcomes) == ["error", "won"], outcomes
        with session_factory() as check:
            row = check.get_one(Remittance, remittance_id)
            posted = check.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.idempotency_key == f"remittance:{remittance_id}")
            )
            assert posted == (1 if row.status == "CONFIRMED" else 0)
            assert row.status in ("CONFIRMED", "REJECTED")


def _decide_at_once(
    factory: sessionmaker[Session], remittance_id: int, confirmer: int, rejecter: int
) -> list[str]:
    barrier, outcomes = threading.Barrier(2), []

    def decide(supervisor_id: int, reject: bool) -> None:
        with factory() as session:
            supervisor = session.get_one(Agent, supervisor_id)
            barrier.wait()
            try:
                if reject:
                    reject_remittance(
                        session, remittance_id=remittance_id, supervisor=supervisor, now=T0,
                        reason="not received",
                    )  # fmt: skip
                else:
                    confirm_remittance(
                        session, remittance_id=remittance_id, supervisor=supervisor, now=T0
                    )
                session.commit()
                outcomes.append("won")
            except CashError:
                session.rollback()
                outcomes.append("error")

    threads = [
        threading.Thread(target=decide, args=(confirmer, False)),
        threading.Thread(target=decide, args=(rejecter, True)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.postgres
def test_two_supervisors_confirming_at_once_make_one_effect(
    session_factory: sessionmaker[Session],
) -> None:
    """The remittance row is locked: one confirmation books the ledger, the other sees it
    confirmed (D21, exactly once)."""
    with session_factory() as setup:
        mutual = make_mutual(setup)
        household = make_household(setup, mutual)
        collector, sup, other = agents_of(setup, mutual)
        collect(setup, collector, household, 5000, "c")
        remittance, _ = declare_remittance(
            setup, agent=collector, amount=5000, request_key="r", now=T0
        )
        setup.commit()
        ids = (remittance.id, sup.id, other.id, mutual.id, collector.id)
    for _ in range(3):
        outcomes = _race(session_factory, *ids[:3])
        assert sorted(outcomes) == [False, True] or sorted(outcomes) == [False, False]
    with session_factory() as check:
        kinds = check.scalars(select(LedgerTransaction.kind)).all()
        assert kinds.count("remittance") == 1
        assert posting.balance(check, ids[3], f"asset:agent_cash:{ids[4]}") == 0


def _race(factory: sessionmaker[Session], remittance_id: int, *supervisors: int) -> list[bool]:
    barrier, outcomes, errors = threading.Barrier(2), [], []

    def confirm(supervisor_id: int) -> None:
        try:
            with factory() as session:
                supervisor = session.get_one(Agent, supervisor_id)
                barrier.wait()
                done = confirm_remittance(
                    session, remittance_id=remittance_id, supervisor=supervisor, now=T0
                )
                session.commit()
                outcomes.append(done.created)
        except Exception as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=confirm, args=(s,)) for s in supervisors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return outcomes


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def run(cli_env: dict[str, str]) -> Invoke:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["agents", *args], env=cli_env)

    return invoke


def test_cli_lists_and_confirms_remittances(db: Session, world: World, run: Invoke) -> None:
    mutual, household, collector, _, _ = world
    collect(db, collector, household, 7000, "c1")
    remittance, _ = declare_remittance(db, agent=collector, amount=7000, request_key="r", now=T0)
    db.commit()
    listed = run("remittances", "--mutual", "MUT", "--json")
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)
    assert row["id"] == remittance.id and row["status"] == "PENDING" and row["amount"] == 7000
    assert row["agent"] == "Ali" and row["confirmed_by"] is None
    assert "+22670****01" in run("remittances").output
    refused = run("confirm-remittance", str(remittance.id), "--by", "70000001")
    assert refused.exit_code == 1 and "not an active supervisor" in refused.output
    done = run("confirm-remittance", str(remittance.id), "--by", "70 00 00 02")
    assert done.exit_code == 0, done.output
    assert "confirmed" in done.output
    again = run("confirm-remittance", str(remittance.id), "--by", "70000003")
    assert again.exit_code == 0 and "already confirmed by Awa" in again.output
    [row] = json.loads(run("remittances", "--json").output)
    assert row["status"] == "CONFIRMED" and row["confirmed_by"] == "Awa"
    assert run("remittances", "--pending").output.strip() == "no remittances"
    assert run("remittances", "--mutual", "NOPE").exit_code == 1
    assert run("confirm-remittance", "1", "--by", "70009999").exit_code == 1
    db.expire_all()
    assert posting.balance(db, mutual.id, "asset:bank") == 7000


def test_cli_rejects_a_remittance_with_a_reason(db: Session, world: World, run: Invoke) -> None:
    mutual, household, collector, _, _ = world
    collect(db, collector, household, 4000, "c1")
    remittance, _ = declare_remittance(
        db, agent=collector, amount=4000, request_key="r", now=T0, method="transfer"
    )
    db.commit()
    no_reason = run("reject-remittance", str(remittance.id), "--by", "70000002")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank = run("reject-remittance", str(remittance.id), "--by", "70000002", "--reason", " ")
    assert blank.exit_code == 1 and "needs a reason" in blank.output
    done = run("reject-remittance", str(remittance.id), "--by", "70000002", "--reason", "not here")
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"remittance #{remittance.id} of 4000 XOF rejected: not here"
    again = run("reject-remittance", str(remittance.id), "--by", "70000003", "--reason", "x")
    assert again.exit_code == 0 and "already rejected by Awa" in again.output
    refused = run("confirm-remittance", str(remittance.id), "--by", "70000003")
    assert refused.exit_code == 1 and "was rejected" in refused.output
    [row] = json.loads(run("remittances", "--json").output)
    assert (row["status"], row["method"], row["rejected_by"], row["note"]) == (
        "REJECTED",
        "transfer",
        "Awa",
        "not here",
    )
    assert "rejected by Awa" in run("remittances").output
    db.expire_all()
    assert posting.balance(db, mutual.id, "asset:bank") == 0
    assert cash_position(db, collector).available == 4000


# --- cash held too long -------------------------------------------------------------------


def test_agents_holding_cash_too_long_are_flagged_once_per_bucket(
    db: Session,
    world: World,
) -> None:
    """D21: older than the mutual's cash_max_days -> one alert; a rerun raises none; twice
    the limit raises a new one; remitted cash is not flagged."""
    mutual, household, collector, sup, _ = world
    mutual.cash_max_days = 3
    collect(db, collector, household, 2000, "c1")
    assert flag_stale_cash(db, T0 + dt.timedelta(days=3)) == 0
    assert flag_stale_cash(db, T0 + dt.timedelta(days=4)) == 1
    assert flag_stale_cash(db, T0 + dt.timedelta(days=5)) == 0
    assert flag_stale_cash(db, T0 + dt.timedelta(days=6)) == 1
    alert = db.scalars(select(Alert)).first()
    assert alert is not None and alert.kind == "agent_cash_age"
    assert alert.subject == f"agent:{collector.id}" and "2000 XOF" in alert.detail
    remittance, _ = declare_remittance(db, agent=collector, amount=2000, request_key="r", now=T0)
    confirm_remittance(db, remittance_id=remittance.id, supervisor=sup, now=T0)
    assert flag_stale_cash(db, T0 + dt.timedelta(days=30)) == 0


@pytest.fixture
def job_context(database_url: str, tmp_path: Path) -> Iterator[FixedClock]:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    clock = FixedClock(T0 + dt.timedelta(days=10))
    jobs.configure(settings, clock)
    yield clock
    jobs.context().close()


def test_cash_age_job(
    db: Session,
    world: World,
    job_context: FixedClock,
) -> None:
    _, household, collector, _, _ = world
    collect(db, collector, household, 2000, "c1")
    db.commit()
    assert agent_cash_age() == 1
    assert agent_cash_age() == 0  # idempotent
    assert db.scalar(select(func.count()).select_from(Alert)) == 1


def test_cash_max_days_comes_from_the_mutual_file(db: Session, tmp_path: Path) -> None:
    text = (DATA / "mutual.toml").read_text()
    assert load_mutual(db, text).cash_max_days == 7  # the default
    changed = text.replace("catch_up_hours = 24", "catch_up_hours = 24\ncash_max_days = 3")
    assert load_mutual(db, changed).cash_max_days == 3
    with pytest.raises(ConfigError, match="cash_max_days"):
        load_mutual(
            db, text.replace("catch_up_hours = 24", "catch_up_hours = 24\ncash_max_days = 0")
        )


def test_cash_far_above_what_is_owed_is_held_and_the_receipt_promises_no_cover(
    db: Session, world: World
) -> None:
    """A collector types 60 000 for a one-member household (6 000 a year, limit 5 years): the
    cash is the agent's to remit, the payment waits for an operator, and the household's
    receipt says the amount is under review, not "covered"."""
    mutual, household, collector, _, _ = world
    done = collect_cash(
        db, agent=collector, household=household, amount=60000, request_key="big", now=T0
    )
    assert done.receipt is not None
    assert "Montant en verification a la mutuelle" in done.receipt.text
    assert "A JOUR" not in done.receipt.text and "PAYE" not in done.receipt.text
    assert posting.balance(db, mutual.id, f"asset:agent_cash:{collector.id}") == 60000
    assert posting.household_credit(db, mutual.id, household.id) == 0
