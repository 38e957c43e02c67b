"""Finding a member and reading their household (console.md, issue 16): the search by each
key, scope isolation (mutual and section), masked phones with an audited reveal, and the
merged timeline's order and paging across sources."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from gateway.console.scope import Scope
from gateway.console.search import search
from gateway.console.timeline import Cursor, timeline_page
from gateway.models import OperatorAction, Role, ScopeKind
from gateway.services.members import Change, record_event
from gateway.services.operators import ScopeRef
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, make_user, post, sign_in
from tests.support.household import SECRET, Story, delivered_sms, household_story, ussd_session

PHONE_A = "+22670112233"
PHONE_B = "+22676445566"


@pytest.fixture
def stories(db: Session, two: TwoMutuals) -> tuple[Story, Story]:
    a = household_story(
        db, two.a, PHONE_A, number="10001", name="Awa Ouedraogo", section_id=two.section_a.id
    )
    b = household_story(
        db, two.b, PHONE_B, number="20001", name="Awa Sawadogo", section_id=two.section_b.id
    )
    db.commit()
    return a, b


def signed(client: FlaskClient, db: Session, login: str, role: Role, scope: ScopeRef) -> None:
    make_user(db, login, role, scope)
    db.commit()
    assert sign_in(client, login).status_code == 302


def phone_id(db: Session, story: Story) -> int:
    """The story's phone id, read in a transaction of its own (SQLite: never hold its lock)."""
    found = story.household.phones[0].id
    db.commit()
    return found


def numbers(html: str) -> list[str]:
    return re.findall(r'<tr class="result">\s*<td><a href="[^"]*">([^<]+)</a>', html)


# --- search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["10001", "1000101", "awa o", "AWA", "+22670112233", "70 11 22 33", "receipt"],
)
def test_the_search_finds_a_member_by_each_key(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story], query: str
) -> None:
    a, _b = stories
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    q = a.receipt_code if query == "receipt" else query
    html = client.get("/console/members", query_string={"q": q}).get_data(as_text=True)
    assert numbers(html) == ["10001"]
    assert "/console/households/10001?mutual=MA" in html


def test_a_search_is_one_statement_after_the_operator_and_the_countries(
    console_app: Flask,
    client: FlaskClient,
    db: Session,
    two: TwoMutuals,
    stories: tuple[Story, Story],
) -> None:
    """Every key in one statement, the head's name and the mutual's code with it; a household
    found by several keys is listed once, under the first (household, member, phone, ...)."""
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    engine = console_app.extensions["gateway"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        html = client.get("/console/members", query_string={"q": PHONE_A}).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert numbers(html) == ["10001"] and "Awa Ouedraogo" in html
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 3, "\n\n".join(reads)  # the operator, the countries, the search
    found = search(db, Scope(ScopeKind.MUTUAL, frozenset({two.a.id})), "10001")
    db.commit()
    assert [(f.household.number, f.matched, f.head, f.mutual_code) for f in found] == [
        ("10001", "household", "Awa Ouedraogo", "MA")
    ]


def test_the_search_sees_only_the_scope(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    _a, b = stories
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    for q in ("20001", "Awa S", PHONE_B, b.receipt_code):
        html = client.get("/console/members", query_string={"q": q}).get_data(as_text=True)
        assert numbers(html) == [], q
        assert 'id="none"' in html


def test_the_whole_deployment_finds_both_mutuals(
    client: FlaskClient, db: Session, stories: tuple[Story, Story]
) -> None:
    signed(client, db, "all@x.bf", Role.VIEWER, ScopeRef(ScopeKind.ALL))
    html = client.get("/console/members?q=awa").get_data(as_text=True)
    assert numbers(html) == ["10001", "20001"]


def test_a_name_prefix_is_not_a_pattern(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    assert numbers(client.get("/console/members?q=%25%25").get_data(as_text=True)) == []
    assert numbers(client.get("/console/members?q=a_a").get_data(as_text=True)) == []


# --- scope of the household page ----------------------------------------------------------


def test_another_mutuals_household_is_404(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    assert client.get("/console/households/10001").status_code == 200
    assert client.get("/console/households/20001").status_code == 404
    assert client.get("/console/households/20001?mutual=MB").status_code == 404
    assert client.get("/console/households/99999").status_code == 404


def test_a_section_sees_its_households_only(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    other = household_story(
        db, two.a, "+22670998877", number="10002", name="Issa Kabore", section_id=None
    )
    db.commit()
    signed(client, db, "s@a.bf", Role.MANAGER, two.section_scope_a)
    assert client.get("/console/households/10001").status_code == 200
    assert client.get(f"/console/households/{other.household.number}").status_code == 404
    for q in ("10002", "Issa", "+22670998877", other.receipt_code):
        assert numbers(client.get("/console/members", query_string={"q": q}).get_data(True)) == []
    assert numbers(client.get("/console/members?q=10001").get_data(as_text=True)) == ["10001"]


# --- the page -----------------------------------------------------------------------------


def test_the_household_page_shows_standing_phones_masked_and_the_timeline(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    signed(client, db, "v@a.bf", Role.VIEWER, two.scope_a)
    html = client.get("/console/households/10001").get_data(as_text=True)
    assert "Awa Ouedraogo" in html and 'class="beneficiary"' in html
    assert 'id="offered"' in html and 'id="credit"' in html
    assert "+22670****33" in html and PHONE_A not in html
    assert "Reveal" not in html  # a viewer has no reveal button
    kinds = re.findall(r'data-kind="([a-z_]+)"', html)
    # newest first: the receipt SMS of the cash, the cash and its payment (same instant: by
    # source), the SMS, the mobile money intent, the session's end, the session
    assert kinds == ["sms", "cash", "payment", "sms", "intent", "session_end", "session"]
    assert "DELIVERED" in html and "SUCCESSFUL" in html
    assert "liab:household:" in html  # the payment's ledger postings
    assert "member_menu" in html and "member_pay" in html


def test_a_viewer_cannot_reveal(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    a, _b = stories
    signed(client, db, "v@a.bf", Role.VIEWER, two.scope_a)
    phone = phone_id(db, a)
    answer = post(client, f"/console/households/10001/phones/{phone}/reveal")
    assert answer.status_code == 403
    reveals = select(func.count(OperatorAction.id)).where(OperatorAction.action == "phone.reveal")
    assert db.scalar(reveals) == 0


def test_each_reveal_writes_one_action_and_shows_the_phone_once(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    a, _b = stories
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    phone = phone_id(db, a)
    url = f"/console/households/10001/phones/{phone}/reveal"
    first = post(client, url)
    assert first.status_code == 200 and PHONE_A in first.get_data(as_text=True)
    assert post(client, url).status_code == 200
    db.expire_all()
    rows = list(db.scalars(select(OperatorAction).where(OperatorAction.action == "phone.reveal")))
    expected = {("household", str(a.household.id), two.a.id)}
    db.commit()
    assert len(rows) == 2
    assert {(r.object_type, r.object_id, r.mutual_id) for r in rows} == expected
    again = client.get("/console/households/10001").get_data(as_text=True)
    assert PHONE_A not in again  # revealed once, not kept
    assert 'data-kind="action"' in again  # the reveals are on the household's timeline


def test_another_mutuals_phone_cannot_be_revealed(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    _a, b = stories
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    foreign = phone_id(db, b)
    for number in ("20001", "10001"):
        url = f"/console/households/{number}/phones/{foreign}/reveal"
        assert post(client, url).status_code == 404


def test_a_bad_cursor_is_400(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    assert client.get("/console/households/10001?after=nonsense").status_code == 400


# --- the timeline's order and paging ------------------------------------------------------


def test_the_timeline_pages_across_sources_without_gaps_or_repeats(
    db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    a, _b = stories
    household = a.household
    start = NOW - dt.timedelta(days=2)
    same = start + dt.timedelta(hours=1)
    for i in range(7):  # SMS and sessions interleaved, two of them at the very same instant
        at = same if i < 2 else start + dt.timedelta(hours=2 + i)
        delivered_sms(db, two.a, household, PHONE_A, at)
        ussd_session(db, two.a, PHONE_A, f"S{i}", at, screens=("member_menu",), status=None)
    db.commit()
    seen: list[tuple[dt.datetime, int, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = timeline_page(db, household, [PHONE_A], SECRET, cursor, size=4)
        pages += 1
        seen += [i.key for i in page.items]
        cursor = page.next
        if cursor is None:
            break
    db.commit()
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen))
    full = timeline_page(db, household, [PHONE_A], SECRET, None, size=500)
    db.commit()
    assert len(seen) == len(full.items) and pages > 3


def test_later_sources_read_from_the_pages_floor_and_the_pages_are_the_same(
    db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    """Busy hops first: once they fill a page, the other sources read only from the oldest
    moment the page can reach (rows at that very moment included: ties go by rank and id),
    and every page is the one the unbounded merge gives."""
    a, _b = stories
    household = a.household
    start = NOW - dt.timedelta(days=1)
    for i in range(8):  # 16 hops, an SMS at the instant of each session's first hop
        at = start + dt.timedelta(minutes=10 * i)
        ussd_session(db, two.a, PHONE_A, f"B{i}", at, status=None)
        delivered_sms(db, two.a, household, PHONE_A, at)
    for i in range(5):  # older SMS, below every page's floor but the last
        delivered_sms(db, two.a, household, PHONE_A, start - dt.timedelta(hours=1 + i))
    db.commit()
    full = [i.key for i in timeline_page(db, household, [PHONE_A], SECRET, None, size=500).items]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    keys: list[tuple[dt.datetime, int, int]] = []
    cursor: str | None = None
    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        while True:
            page = timeline_page(db, household, [PHONE_A], SECRET, cursor, size=5)
            keys += [i.key for i in page.items]
            cursor = page.next
            if cursor is None:
                break
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    db.commit()
    assert keys == full
    sms = [s for s in statements if "FROM outbox_messages" in s and " DESC" in s.upper()]
    assert any("created_at >=" in s for s in sms)  # read from the floor


def test_a_foreign_mutuals_hops_of_the_same_phone_stay_out(
    db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    a, _b = stories
    ussd_session(db, two.b, PHONE_A, "elsewhere", NOW - dt.timedelta(minutes=5))
    db.commit()
    page = timeline_page(db, a.household, [PHONE_A], SECRET, None)
    db.commit()
    assert all(i.row.session_id != "elsewhere" for i in page.items if i.kind.startswith("session"))


def test_cursor_round_trip() -> None:
    cursor = Cursor(NOW, 3, 42)
    assert Cursor.decode(cursor.encode()) == cursor


def test_the_test_secret_is_the_apps(console_app: Flask) -> None:
    assert console_app.extensions["gateway"].settings.secret_key == SECRET


def test_a_page_reads_a_bounded_number_of_rows_whatever_the_history(
    db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    """Each source is one LIMITed query; details are read for the page's items only."""
    a, _b = stories
    for i in range(40):
        delivered_sms(db, two.a, a.household, PHONE_A, NOW - dt.timedelta(days=3, minutes=i))
    db.commit()
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        page = timeline_page(db, a.household, [PHONE_A], SECRET, None, size=5)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    db.commit()
    assert len(page.items) <= 5 and page.next is not None
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 12  # 10 reads of 9 sources, then events, postings
    sources = [s for s in selects if " DESC" in s.upper()]  # the newest-first reads
    # 9 sources; the SMS by phone and by household are two reads, each in its index's order
    assert len(sources) == 10 and all("LIMIT" in s.upper() for s in sources)


def test_the_whole_page_is_a_fixed_number_of_statements(
    console_app: Flask,
    client: FlaskClient,
    db: Session,
    two: TwoMutuals,
    stories: tuple[Story, Story],
) -> None:
    """The operator, the household with its mutual and section, its standing (snapshot or
    book, beneficiaries, campaign), phones, the timeline (10 reads, events, postings): 19 at
    most on PostgreSQL (with the request's SET LOCAL), whatever the history; the product's
    configuration is cached by the first request (gateway.services.coverage.products)."""
    signed(client, db, "m@a.bf", Role.MANAGER, two.scope_a)
    assert client.get("/console/households/10001").status_code == 200
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    engine = console_app.extensions["gateway"].engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert client.get("/console/households/10001").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) <= 19, "\n".join(statements)


def test_a_membership_event_is_on_the_timeline(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    """D23: an event recorded through the events service appears with its type, date and
    reason, newest first."""
    a, _b = stories
    head = a.household.beneficiaries[0]
    change = Change("suspend", NOW.date(), "carte prêtée", "gerant", beneficiary=head)
    record_event(db, a.household, change, now=NOW + dt.timedelta(days=1))
    db.commit()
    signed(client, db, "v@a.bf", Role.VIEWER, two.scope_a)
    html = client.get("/console/households/10001").get_data(as_text=True)
    assert re.findall(r'data-kind="([a-z_]+)"', html)[0] == "household_event"
    assert f"suspend · {NOW.date().isoformat()} · carte prêtée" in html


def test_relationships_are_words_of_the_operators_language(
    client: FlaskClient, db: Session, two: TwoMutuals, stories: tuple[Story, Story]
) -> None:
    """A manager in Bobo reads "chef de ménage", not the register's code `head`."""
    make_user(db, "fr@a.bf", Role.VIEWER, two.scope_a, language="fr")
    db.commit()
    sign_in(client, "fr@a.bf")
    html = client.get("/console/households/10001").get_data(as_text=True)
    cells = re.findall(
        r'<tr class="beneficiary"><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>', html
    )
    assert cells[0] == "chef de ménage" and "head" not in cells
