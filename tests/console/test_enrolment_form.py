"""`/console/enrolments/new` (D24: "a manager can also enrol from the console") and the paging
of `/console/enrolments`: a manager or an admin types a household, every answer checked by
the USSD's rules with each refusal next to its field and what was typed kept; possible
duplicates need a second submit; then the enrolment is created and approved at once (numbers,
the head's SMS, no collector) with ONE `operator_actions` row (`enrolment.create`); other
mutuals and sections are 404, viewers and finance 403, a post without its CSRF token 400."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.console.pages import enrolments as page_module
from gateway.models import (
    Beneficiary,
    Enrolment,
    EnrolmentStatus,
    Household,
    OutboxMessage,
    Role,
    Section,
)
from gateway.services import ledger
from gateway.services.agents.registry import add_agent
from gateway.services.members.enrolment import member_numbers
from tests.console.conftest import TwoMutuals
from tests.support.console import actions, make_user, post, sign_in, signed
from tests.support.enrolments import pending

URL = "/console/enrolments/new"
_SEEN = re.compile(r'name="seen" type="hidden" value="([0-9a-f]+)"')


def typed(two: TwoMutuals, **changes: str) -> dict[str, str]:
    """A complete household of mutual A's section: Awa and two dependants, typed on rows 1
    and 3 (row 2 left blank)."""
    data = {
        "mutual": str(two.a.id),
        "section": str(two.section_a.id),
        "name": "  Awa   Ouedraogo ",
        "sex": "F",
        "year": "1985",
        "phone": "70 11 22 33",
        "language": "fr",
        "dependants-0-name": "Ali Ouedraogo",
        "dependants-0-sex": "M",
        "dependants-0-year": "2015",
        "dependants-2-name": "Mariam Ouedraogo",
        "dependants-2-sex": "F",
        "dependants-2-year": "2018",
    }
    return {**data, **changes}


def enrolments(db: Session) -> list[Enrolment]:
    rows = list(db.scalars(select(Enrolment).order_by(Enrolment.id)))
    db.rollback()
    return rows


def test_a_manager_enrols_and_approves_a_household(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    db.commit()
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    form = manager.get(URL).text
    assert "Nord" in form and "Sud" not in form  # the sections of the scope only
    assert 'name="dependants-9-name"' in form and 'name="dependants-10-name"' not in form
    assert URL in manager.get("/console/enrolments").text  # linked from the list
    before = len(actions(db))
    reply = post(manager, URL, typed(two))
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"].endswith("/console/households/900000019?mutual=MA")
    shown = manager.get(reply.headers["Location"])
    assert shown.status_code == 200 and "Household 900000019 enrolled" in shown.text
    done = actions(db)[before:]
    assert [(a.action, a.mutual_id, a.section_id, a.before) for a in done] == [
        ("enrolment.create", two.a.id, two.section_a.id, None)
    ]
    after = done[0].after or {}
    assert after["status"] == "APPROVED" and after["household"] == "900000019"
    assert after["members"] == member_numbers("900000019", 3)
    assert after["head"] == {
        "name": "Awa Ouedraogo",
        "sex": "F",
        "year": 1985,
        "phone": "+22670****33",
    }
    assert [d["name"] for d in after["dependants"]] == ["Ali Ouedraogo", "Mariam Ouedraogo"]
    assert after["by"] == "console:gerant@ma.bf" and after["duplicates"] == []
    with db.begin():
        (made,) = db.scalars(select(Enrolment)).all()
        assert (made.status, made.agent_id) == (EnrolmentStatus.APPROVED, None)
        assert made.decided_by == "console:gerant@ma.bf" and made.submitted_at is not None
        household = db.scalars(select(Household)).one()
        assert (household.number, household.section_id) == ("900000019", two.section_a.id)
        assert household.phones[0].msisdn == "+22670112233"
        people = db.scalars(select(Beneficiary).order_by(Beneficiary.number)).all()
        assert [(p.full_name, p.birth_date.year if p.birth_date else None) for p in people] == [
            ("Awa Ouedraogo", 1985),
            ("Ali Ouedraogo", 2015),
            ("Mariam Ouedraogo", 2018),
        ]
        sms = db.scalars(select(OutboxMessage)).all()
        assert [(m.template, m.phone) for m in sms] == [("enrol_approved", "+22670112233")]
        assert "900000019" in sms[0].text  # no collector to tell
        assert ledger.audit(db) == []


def test_each_refused_answer_is_shown_by_its_field_with_what_was_typed(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    db.commit()
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    bad = typed(
        two,
        name="1234",
        sex="",
        year="1850",
        phone="12",
        section="",
        **{"dependants-2-year": "20x8", "dependants-4-sex": "F"},
    )
    reply = post(manager, URL, bad)
    assert reply.status_code == 422
    html = reply.text
    found = dict(re.findall(r'id="error-([\w]+)">([^<]+)<', html))
    assert found == {
        "name": "A name needs letters.",
        "sex": "Choose female or male.",
        "year": "A year of four digits, from 1900 to 2026.",
        "phone": "Not a valid phone number for this mutual&#39;s country.",
        "section": "Choose a section of this mutual.",
        "dep3_year": "A year of four digits, from 1900 to 2026.",  # the row typed, not the 2nd
        "dep5_name": "A name needs letters.",
        "dep5_year": "A year of four digits, from 1900 to 2026.",
    }
    assert 'value="1850"' in html and 'value="20x8"' in html and 'value="Mariam Ouedraogo"' in html
    long = post(manager, URL, typed(two, name="A" * 41, year=" 2027"))
    assert dict(re.findall(r'id="error-([\w]+)">([^<]+)<', long.text)) == {
        "name": "A name has at most 40 characters.",
        "year": "A year of four digits, from 1900 to 2026.",
    }
    assert not enrolments(db) and not [a for a in actions(db) if a.action.startswith("enrol")]


def test_the_form_speaks_french(db: Session, two: TwoMutuals, console_app: Flask) -> None:
    make_user(db, "fr@ma.bf", Role.MANAGER, two.scope_a, language="fr")
    db.commit()
    client = console_app.test_client()
    sign_in(client, "fr@ma.bf")
    assert "Inscrire un ménage" in client.get(URL).text
    reply = post(client, URL, typed(two, phone="12"))
    assert "Numéro de téléphone invalide" in reply.text


def test_possible_duplicates_need_a_second_submit(
    db: Session, two: TwoMutuals, console_app: Flask
) -> None:
    collector = add_agent(db, two.a, phone="70000002", name="Ali", role="collector", pin="1470")
    earlier = pending(db, two.a, collector, "Awa Nord", two.section_a, phone="+22670112233")
    db.commit()
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    before = len(actions(db))
    first = post(manager, URL, typed(two))
    assert first.status_code == 200 and 'id="duplicates"' in first.text
    assert f"Enrolment #{earlier.id}" in first.text and "same phone" in first.text
    assert 'id="anyway"' in first.text and 'value="  Awa   Ouedraogo "' in first.text
    assert len(enrolments(db)) == 1 and len(actions(db)) == before  # nothing written yet
    seen = _SEEN.search(first.text)
    assert seen is not None
    wrong = post(manager, URL, {**typed(two), "seen": "0" * 32})  # not what was shown
    assert 'id="duplicates"' in wrong.text and len(enrolments(db)) == 1
    done = post(manager, URL, {**typed(two), "seen": seen.group(1)})
    assert done.status_code == 302, done.text
    rows = actions(db)[before:]
    assert [a.action for a in rows] == ["enrolment.create"]
    assert (rows[0].after or {})["duplicates"] == [
        {"kind": "enrolment", "ref": str(earlier.id), "why": "phone"}
    ]
    made = enrolments(db)[-1]
    assert made.status == EnrolmentStatus.APPROVED and made.duplicates
    assert enrolments(db)[0].status == EnrolmentStatus.PENDING  # the collector's is untouched


def test_scope_roles_and_csrf(db: Session, two: TwoMutuals, console_app: Flask) -> None:
    db.commit()
    other = signed(console_app, db, "b@mb.bf", Role.MANAGER, two.scope_b)
    assert post(other, URL, typed(two)).status_code == 404  # mutual A
    into_b = typed(two, mutual=str(two.b.id))  # their mutual, A's section
    assert post(other, URL, into_b).status_code == 404
    assert post(other, URL, typed(two, mutual="x")).status_code == 404
    section = signed(console_app, db, "nord@ma.bf", Role.MANAGER, two.section_scope_a)
    with db.begin():
        south = Section(mutual_id=two.a.id, name="Est")
        db.add(south)
    assert post(section, URL, typed(two, section=str(south.id))).status_code == 404
    no_section = post(section, URL, typed(two, section=""))
    assert no_section.status_code == 422 and 'id="error-section"' in no_section.text
    for role in (Role.VIEWER, Role.FINANCE):
        client = signed(console_app, db, f"{role.value}@ma.bf", role, two.scope_a)
        assert client.get(URL).status_code == 403
        assert post(client, URL, typed(two)).status_code == 403
        assert URL not in client.get("/console/enrolments").text
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    assert manager.post(URL, data=typed(two)).status_code == 400  # no CSRF token
    assert not enrolments(db)
    assert not [a for a in actions(db) if a.action.startswith("enrolment")]


def _client_of(console_app: Flask, db: Session, two: TwoMutuals) -> FlaskClient:
    return signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)


def test_every_pending_enrolment_is_reachable_page_by_page(
    db: Session, two: TwoMutuals, console_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(page_module, "PAGE", 3)
    collector = add_agent(db, two.a, phone="70000002", name="Ali", role="collector", pin="1470")
    theirs = add_agent(db, two.b, phone="70000003", name="Bob", role="collector", pin="1470")
    ours = [pending(db, two.a, collector, f"Awa {i}", phone=f"+2267011111{i}").id for i in range(7)]
    pending(db, two.b, theirs, "Bintou B", phone="+22670333333")
    db.commit()
    manager = _client_of(console_app, db, two)
    seen: list[int] = []
    url: str | None = "/console/enrolments"
    pages = 0
    while url:
        html = manager.get(url).text
        seen += [int(i) for i in re.findall(r'data-id="(\d+)"', html)]
        found = re.search(r'id="next" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        pages += 1
    assert seen == ours and pages == 3  # oldest first, each once, nothing of mutual B
    assert manager.get("/console/enrolments?after=abc").status_code == 400
