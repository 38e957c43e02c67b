"""The field enrolment service (D24): answers checked one at a time, the draft's next
question, numbers per mutual with a check digit (taken numbers skipped), approval through the
`enrol` event (D23) with SMS that always fit a segment, rejection with its reason; and the
`gateway enrolments` command (list, approve, reject) with `gateway ledger check` after it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.lib import checkdigit
from gateway.models import (
    Agent,
    Beneficiary,
    Enrolment,
    EnrolmentStatus,
    Household,
    Mutual,
    OperatorAction,
    OutboxMessage,
    Product,
    Section,
)
from gateway.services import ledger
from gateway.services.agents.registry import add_agent
from gateway.services.members import (
    BadAnswer,
    Change,
    EnrolmentError,
    EventError,
    dependant_answer,
    dependant_name,
    draft_of,
    next_step,
    record_event,
    set_count,
    set_head,
    set_section,
    start_draft,
    submit_enrolment,
)
from gateway.services.members.enrolment import (
    Dependant,
    Refused,
    Typed,
    approve,
    checked_enrolment,
    create_enrolment,
    next_household_number,
    reject,
    same_name,
)
from gateway.services.members.enrolment.answers import clean_name, clean_year
from tests.support.factories import make_household, make_mutual

NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def collector(db: Session, mutual: Mutual | None = None) -> Agent:
    mutual = mutual or make_mutual(db)
    return add_agent(db, mutual, phone="+22670000002", name="Ali", role="collector", pin="1470")


def complete(db: Session, agent: Agent, deps: int = 1, name: str = "Awa Sawadogo") -> Enrolment:
    draft = start_draft(db, agent, "fr")
    for field, value in (("name", name), ("sex", "2"), ("year", "1985"), ("phone", "70123456")):
        set_head(draft, field, value, TODAY, "BF")
    set_count(db, draft, str(deps))
    for i in range(deps):
        dependant_name(db, draft, f"Enfant{i:02d} Sawadogo")
        dependant_answer(draft, "sex", "1", TODAY)
        dependant_answer(draft, "year", "2015", TODAY)
    return submit_enrolment(db, draft, NOW)


def test_answers_say_what_is_wrong() -> None:
    assert clean_name("  Awa   Sawadogo ") == "Awa Sawadogo"
    for bad, reason in (("", "name"), ("1234", "name"), ("A" * 41, "name_long")):
        with pytest.raises(BadAnswer) as caught:
            clean_name(bad)
        assert caught.value.reason == reason
    assert clean_year("2026", TODAY) == 2026
    for bad in ("1899", "2027", "85", "19a5"):
        with pytest.raises(BadAnswer, match=r"year|digits"):
            clean_year(bad, TODAY)
    assert same_name("Zoé  OUÉDRAOGO", "zoe ouedraogo") and not same_name("Awa", "Ami")


def test_the_next_question_follows_the_draft(db: Session) -> None:
    agent = collector(db)
    agent.mutual.sections.append(Section(name="Nord"))
    db.flush()
    draft = start_draft(db, agent, "fr")
    steps = [next_step(db, draft)]
    for field, value in (("name", "Awa S"), ("sex", "F"), ("year", "1985"), ("phone", "70123456")):
        set_head(draft, field, value, TODAY, "BF")
        steps.append(next_step(db, draft))
    set_section(db, draft, agent.mutual.sections[0].id)
    steps.append(next_step(db, draft))
    set_count(db, draft, "2")
    steps.append(next_step(db, draft))
    dependant_name(db, draft, "Ali")
    steps.append(next_step(db, draft))
    dependant_name(db, draft, "Ali Sawadogo")  # typed again after `0`: the same dependant
    dependant_answer(draft, "sex", "1", TODAY)
    steps.append(next_step(db, draft))
    dependant_answer(draft, "year", "2015", TODAY)
    steps.append(next_step(db, draft))
    assert steps == ["name", "sex", "year", "phone", "section", "count", "dep_name", "dep_sex",
                     "dep_year", "dep_name"]  # fmt: skip
    assert [d.full_name for d in draft.dependants] == ["Ali Sawadogo"]
    set_count(db, draft, "0")  # fewer than entered: the extra ones go
    assert draft.dependants == [] and next_step(db, draft) == "summary"
    with pytest.raises(BadAnswer, match="already entered"):
        dependant_name(db, draft, "Nobody")
    with pytest.raises(BadAnswer, match="no dependant"):
        dependant_answer(draft, "sex", "1", TODAY)
    with pytest.raises(BadAnswer, match="no section"):
        set_section(db, draft, 999999)
    with pytest.raises(ValueError, match="unknown field"):
        set_head(draft, "age", "3", TODAY, "BF")
    assert draft_of(db, agent) is draft
    assert submit_enrolment(db, draft, NOW).status == EnrolmentStatus.PENDING
    other = start_draft(db, agent, "fr")
    with pytest.raises(BadAnswer, match="not complete"):
        submit_enrolment(db, other, NOW)


def test_numbers_per_mutual_skip_taken_ones(db: Session) -> None:
    a, b = make_mutual(db, "MA"), make_mutual(db, "MB")
    make_household(db, a, number=checkdigit.household_number(1))  # imported, same digits
    db.flush()
    assert next_household_number(db, a.id) == checkdigit.household_number(2)
    assert next_household_number(db, a.id) == checkdigit.household_number(3)
    assert next_household_number(db, b.id) == checkdigit.household_number(1)


def test_approval_creates_the_household_and_splits_long_sms(db: Session) -> None:
    """Nine dependants: the cards do not fit one SMS; every message fits one segment."""
    agent = collector(db)
    enrolment = complete(db, agent, deps=9)
    done = approve(db, enrolment, by="gerant", now=NOW)
    assert enrolment.status == EnrolmentStatus.APPROVED and enrolment.household_id
    assert len(done.numbers) == 10 and all(checkdigit.is_valid(n) for n in done.numbers)
    members = db.scalars(select(Beneficiary).where(Beneficiary.household_id == done.household.id))
    assert [b.number for b in members] == done.numbers
    sms = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    heads = [m for m in sms if m.phone == "+22670123456"]
    agents = [m for m in sms if m.phone == agent.msisdn]
    assert len(heads) >= 2 and len(agents) >= 2
    assert [m.template for m in heads][:2] == ["enrol_approved", "enrol_cards"]
    assert all(len(m.text) <= 140 for m in sms)
    assert all(n in " ".join(m.text for m in heads) for n in done.numbers)
    assert ledger.audit(db) == []
    with pytest.raises(EnrolmentError, match="not PENDING"):
        approve(db, enrolment, by="gerant", now=NOW)
    with pytest.raises(EventError, match="already has members"):
        record_event(db, done.household, Change("enrol", TODAY, "again", "x", data={
            "members": [{"number": "1", "name": "X", "sex": "M", "relationship": "head"}]}),
            now=NOW)  # fmt: skip


def test_rejection_needs_a_reason_and_tells_the_collector(db: Session) -> None:
    agent = collector(db)
    enrolment = complete(db, agent, deps=0)
    with pytest.raises(EnrolmentError, match="reason"):
        reject(db, enrolment, by="gerant", reason="  ", now=NOW)
    ids = reject(db, enrolment, by="gerant", reason="Doublon " * 40, now=NOW)
    message = db.get(OutboxMessage, ids[0])
    assert message is not None and message.phone == agent.msisdn
    assert message.text.endswith("...") and len(message.text) <= 140
    assert reject.__name__ and enrolment.status == EnrolmentStatus.REJECTED


def test_approval_needs_a_product(db: Session) -> None:
    agent = collector(db)
    enrolment = complete(db, agent, deps=0)
    for product in db.scalars(select(Product)):
        db.delete(product)
    db.flush()
    with pytest.raises(EnrolmentError, match="no product"):
        approve(db, enrolment, by="gerant", now=NOW)


@pytest.mark.parametrize(
    "members",
    [
        [],
        [{"number": "1", "name": "X", "sex": "M", "relationship": "child"}],
        [{"number": "", "name": "X", "sex": "M", "relationship": "head"}],
        [{"number": "1", "name": "X", "sex": "Z", "relationship": "head"}],
    ],
)
def test_the_enrol_event_refuses_bad_members(db: Session, members: list[dict[str, str]]) -> None:
    mutual = make_mutual(db)
    household = Household(mutual=mutual, number="E1", digits="1", product=mutual.products[0])
    db.add(household)
    db.flush()
    with pytest.raises(EventError):
        record_event(db, household, Change("enrol", TODAY, "r", "x", data={"members": members}),
                     now=NOW)  # fmt: skip


def cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {"DATABASE_URL": database_url, "GATEWAY_ENV": "test"}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_the_enrolments_command(db: Session, database_url: str) -> None:
    """`gateway enrolments` lists with the duplicate flags; approve and reject decide (one
    operator_actions row each, no user); `gateway ledger check` passes after."""
    agent = collector(db)
    make_household(db, agent.mutual, phone="+22670123456")
    first = complete(db, agent, deps=1)
    second = complete(db, agent, deps=0, name="Moussa Kabore")
    db.commit()
    code, out = cli(database_url, "enrolments")
    assert (
        code == 0 and f"#{first.id}" in out and "POSSIBLE DUPLICATE" in out and "same phone" in out
    )
    code, out = cli(database_url, "enrolments", "list", "--json", "--mutual", "MUT")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [first.id, second.id]
    assert rows[0]["dependants"] == [{"name": "Enfant00 Sawadogo", "sex": "M", "year": 2015}]
    code, out = cli(database_url, "enrolments", "approve", str(first.id), "--by", "gerant")
    assert code == 0 and "household 900000019" in out, out
    code, out = cli(database_url, "enrolments", "approve", str(first.id))
    assert code == 1 and "not PENDING" in out
    code, out = cli(database_url, "enrolments", "reject", str(second.id))
    assert code == 2 and "--reason" in out
    code, out = cli(database_url, "enrolments", "reject", str(second.id), "--reason", "Absent")
    assert code == 0 and "rejected: Absent" in out
    code, out = cli(database_url, "enrolments", "approve", "999999")
    assert code == 1 and "no enrolment #999999" in out
    code, out = cli(database_url, "enrolments")
    assert code == 0 and "no pending enrolments" in out
    code, out = cli(database_url, "ledger", "check")
    assert code == 0, out
    with db.begin():
        done = db.scalars(select(OperatorAction).order_by(OperatorAction.id)).all()
        assert [(a.action, a.user_id) for a in done] == [
            ("enrolment.approve", None), ("enrolment.reject", None),
        ]  # fmt: skip
        assert db.scalar(select(Enrolment.decided_by).where(Enrolment.id == first.id)) == "gerant"


def test_an_enrolment_typed_in_one_go_is_checked_by_the_ussd_rules(db: Session) -> None:
    """The console's form: every refusal at once (the USSD's reasons), nothing written; a
    complete one becomes PENDING through the USSD's own submission, flags included, with no
    collector, and its approval texts the head only."""
    mutual = make_mutual(db)
    north = Section(mutual=mutual, name="Nord")
    db.add(north)
    db.flush()
    bad = Typed(
        name="42",
        sex="X",
        year="85",
        phone="12",
        section_id=None,
        language="fr",
        dependants=[Dependant("Ali", "1", "2015"), Dependant("", "2", "2030")],
    )
    with pytest.raises(Refused) as refused:
        checked_enrolment(db, mutual, bad, today=TODAY)
    assert refused.value.errors == {
        "name": "name",
        "sex": "sex",
        "year": "year",
        "phone": "phone",
        "section": "section",  # the mutual has sections: one is asked for, as on USSD
        "dep2_name": "name",
        "dep2_year": "year",
    }
    too_many = Typed(
        "Awa", "F", "1985", "70112233", north.id, "fr", [Dependant("A", "M", "2015")] * 21
    )
    with pytest.raises(Refused) as refused:
        checked_enrolment(db, mutual, too_many, today=TODAY)
    assert refused.value.errors == {"dependants": "count"}
    assert db.scalars(select(Enrolment)).all() == []  # nothing written
    good = Typed(
        "Awa  Kabore", "2", "1985", "70112233", north.id, "en", [Dependant("Ali", "1", "2015")]
    )
    checked = checked_enrolment(db, mutual, good, today=TODAY)
    assert (checked.head_name, checked.head_sex, checked.head_phone) == (
        "Awa Kabore",
        "F",
        "+22670112233",
    )
    assert [(d.full_name, d.sex, d.birth_year) for d in checked.dependants] == [("Ali", "M", 2015)]
    made = create_enrolment(db, checked, NOW)
    assert (made.status, made.agent_id, made.submitted_at, made.duplicates) == (
        EnrolmentStatus.PENDING,
        None,
        NOW,
        None,
    )
    done = approve(db, made, by="console:gerant", now=NOW)
    assert [m.template for m in db.scalars(select(OutboxMessage))] == ["enrol_approved"]
    assert done.sms_ids and done.household.section_id == north.id
