"""Scope isolation (D27, issue 16): the scope filter knows every scoped model's path, and an
operator of mutual A (or of a section of A) sees nothing of mutual B (or of another section),
on the home page, the users page, the audit log, and by id (404)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from gateway.console.scope import Scope, UnscopedModel, paths, scoped, user_scope
from gateway.models import (
    Agent,
    Alert,
    Base,
    FacilityCheck,
    Household,
    HouseholdEvent,
    LedgerEntry,
    OperatorAction,
    Payment,
    Role,
    ScopeKind,
    Union,
    User,
)
from gateway.services.operators import ScopeRef, add_union, attach_mutual
from tests.console.conftest import TwoMutuals
from tests.support.console import CLI, NOW, make_user, post, sign_in
from tests.support.factories import make_household

# Tables with a mutual_id that the console does not read (yet): ledger, configuration, the
# reconciliation engine's working tables. A page that reads one declares its path first.
NOT_READ_BY_THE_CONSOLE = {
    "ledger_accounts",
    "ledger_transactions",
    "ledger_holds",
    "products",
    "allocation_reversals",
    "statement_lines",
    "statement_repeats",
    "recon_matches",
    "recon_missing",
    "number_sequences",  # D24: the serial of generated numbers, read by approvals only
    "indicator_dirty",  # marks for the indicators job only
}


def test_every_table_with_a_mutual_is_scoped_or_listed() -> None:
    scoped_tables = {model.__tablename__ for model in paths()}
    with_mutual = {t.name for t in Base.metadata.sorted_tables if "mutual_id" in t.columns}
    missing = with_mutual - scoped_tables - NOT_READ_BY_THE_CONSOLE
    assert missing == set(), f"declare a scope path for {sorted(missing)}"


def test_an_undeclared_model_is_refused() -> None:
    with pytest.raises(UnscopedModel, match="LedgerEntry"):
        scoped(select(LedgerEntry), LedgerEntry, Scope(ScopeKind.ALL))


def _payment(db: Session, household: Household, amount: int, ref: str) -> None:
    db.add(
        Payment(
            mutual_id=household.mutual_id,
            household_id=household.id,
            amount=amount,
            paid_on=NOW.date(),
            channel="cash",
            reference=ref,
            ledger_key=ref,
        )
    )


@pytest.fixture
def data(db: Session, two: TwoMutuals) -> dict[str, Household]:
    """One household in section A (Nord), one in A without a section, one in B."""
    north = make_household(db, two.a)
    north.section_id = two.section_a.id
    bare = make_household(db, two.a)
    other = make_household(db, two.b)
    _payment(db, north, 1000, "p-north")
    _payment(db, bare, 2000, "p-bare")
    _payment(db, other, 4000, "p-other")
    db.add_all(
        [
            Alert(mutual_id=two.a.id, kind="k", subject="s", dedupe_key="a", created_at=NOW),
            Alert(mutual_id=two.b.id, kind="k", subject="s", dedupe_key="b", created_at=NOW),
            Alert(mutual_id=two.b.id, kind="k", subject="s", dedupe_key="c", created_at=NOW),
        ]
    )
    db.flush()
    return {"north": north, "bare": bare, "other": other}


def test_the_filter_per_scope_kind(
    db: Session, two: TwoMutuals, data: dict[str, Household]
) -> None:
    def visible(scope: Scope) -> set[int]:
        return set(db.scalars(scoped(select(Payment.amount), Payment, scope)))

    assert visible(Scope(ScopeKind.ALL)) == {1000, 2000, 4000}
    assert visible(Scope(ScopeKind.MUTUAL, frozenset({two.a.id}))) == {1000, 2000}
    section = Scope(ScopeKind.SECTION, frozenset({two.a.id}), section_id=two.section_a.id)
    assert visible(section) == {1000}
    assert (
        visible(Scope(ScopeKind.SECTION, frozenset({two.a.id}), section_id=two.section_b.id))
        == set()
    )
    assert visible(Scope(ScopeKind.UNION, frozenset())) == set()
    alerts = scoped(select(Alert.id), Alert, section)
    assert list(db.scalars(alerts)) == []  # mutual-wide rows: no section sees them


def test_a_union_scope_reads_its_mutuals(
    db: Session, two: TwoMutuals, data: dict[str, Household]
) -> None:
    union = add_union(db, CLI, "UN", "Union du Nord", now=NOW)
    attach_mutual(db, CLI, "MB", "UN", now=NOW)
    user = make_user(db, "union@un.bf", Role.VIEWER, _union_ref(union))
    scope = user_scope(db, user)
    assert scope.mutual_ids == {two.b.id}
    assert set(db.scalars(scoped(select(Payment.amount), Payment, scope))) == {4000}
    assert list(db.scalars(scoped(select(Union.code), Union, scope))) == ["UN"]


def _union_ref(union: Union) -> ScopeRef:
    return ScopeRef(ScopeKind.UNION, union_id=union.id)


def test_home_shows_only_the_scope(
    db: Session, two: TwoMutuals, data: dict[str, Household], client: FlaskClient
) -> None:
    make_user(db, "a@ma.bf", Role.MANAGER, two.scope_a)
    make_user(db, "nord@ma.bf", Role.VIEWER, two.section_scope_a)
    make_user(db, "all@fed.bf", Role.VIEWER, _all())
    db.commit()
    figures = {}
    for login in ("a@ma.bf", "nord@ma.bf", "all@fed.bf"):
        other = client.application.test_client()
        sign_in(other, login)
        html = other.get("/console/").get_data(as_text=True)
        figures[login] = (_figure(html, "amount"), _figure(html, "alerts"))
    assert figures["a@ma.bf"] == ("3 000 XOF", "1")
    assert figures["nord@ma.bf"] == ("1 000 XOF", "0")
    assert figures["all@fed.bf"] == ("7 000 XOF", "3")


def _all() -> ScopeRef:
    return ScopeRef(ScopeKind.ALL)


def _figure(html: str, name: str) -> str:
    return html.split(f'id="{name}">')[1].split("<")[0]


def test_users_and_audit_of_mutual_b_stay_hidden_from_a(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    b_user = make_user(db, "gerant@mb.bf", Role.MANAGER, two.scope_b)
    db.commit()
    sign_in(client, "admin@ma.bf")
    users = client.get("/console/users").get_data(as_text=True)
    assert "gerant@ma.bf" in users and "gerant@mb.bf" not in users
    audit = client.get("/console/audit").get_data(as_text=True)
    assert audit.count('class="action"') == 2  # the two users of A were created
    for verb in ("deactivate", "activate", "unlock"):
        assert post(client, f"/console/users/{b_user.id}/{verb}").status_code == 404
    reset = post(client, f"/console/users/{b_user.id}/password", {"password": "another password 1"})
    assert reset.status_code == 404
    assert post(client, "/console/users/999999/unlock").status_code == 404


def test_an_admin_cannot_create_a_user_outside_their_scope(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    make_user(db, "admin@ma.bf", Role.ADMIN, two.scope_a)
    db.commit()
    sign_in(client, "admin@ma.bf")
    for scope in ("mutual:MB", "all", "section:MB/Sud"):
        form = {
            "login": f"x{len(scope)}@mb.bf",
            "role": "viewer",
            "scope": scope,
            "language": "fr",
            "password": "long enough pw",
        }
        post(client, "/console/users/new", form)
    allowed = {
        "login": "nord@ma.bf",
        "role": "viewer",
        "scope": "section:MA/Nord",
        "language": "fr",
        "password": "long enough pw",
    }
    post(client, "/console/users/new", allowed)
    logins = set(db.scalars(select(User.login)))
    assert logins == {"admin@ma.bf", "nord@ma.bf"}


def test_audit_rows_carry_the_scope_of_their_object(db: Session, two: TwoMutuals) -> None:
    user = make_user(db, "nord@ma.bf", Role.VIEWER, two.section_scope_a)
    row = db.scalars(select(OperatorAction)).one()
    assert (row.mutual_id, row.section_id, row.object_id) == (
        two.a.id,
        two.section_a.id,
        str(user.id),
    )
    assert inspect(row).persistent
    assert row.occurred_at == NOW and row.occurred_at.tzinfo == dt.UTC


def test_home_reads_log_tables_only_within_the_day(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    """console.md: no COUNT over a log table; the home page's reads of payments and SMS are
    bounded by the day (paid_on, created_at: both indexed)."""
    make_user(db, "a@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    sign_in(client, "a@ma.bf")
    engine = client.application.extensions["gateway"].engine
    statements: list[str] = []

    def capture(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.get("/console/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    logs = [s for s in statements if "FROM payments" in s or "FROM outbox_messages" in s]
    assert len(logs) == 2
    assert all("payments.paid_on =" in s or "outbox_messages.created_at >=" in s for s in logs)


def test_facility_checks_and_household_events_follow_their_section(
    db: Session, two: TwoMutuals, data: dict[str, Household]
) -> None:
    """D26 checks belong to the section of the agent who made them; D23 events to the
    section of their household."""
    north_agent = Agent(
        mutual_id=two.a.id,
        section_id=two.section_a.id,
        msisdn="+22670000001",
        name="Nord",
        role="facility",
        pin_hash="x",
    )
    bare_agent = Agent(
        mutual_id=two.a.id, msisdn="+22670000002", name="Sans", role="facility", pin_hash="x"
    )
    db.add_all([north_agent, bare_agent])
    db.flush()
    for agent, card in ((north_agent, "N-1"), (bare_agent, "B-1")):
        db.add(
            FacilityCheck(
                mutual_id=two.a.id,
                agent_id=agent.id,
                card_number=card,
                checked_on=NOW.date(),
                checked_at=NOW,
                status="ACTIVE",
                key=card,
            )
        )
    for name in ("north", "bare"):
        household = data[name]
        db.add(
            HouseholdEvent(
                mutual_id=two.a.id,
                household_id=household.id,
                type="correct",
                effective_on=NOW.date(),
                recorded_by="t",
                recorded_at=NOW,
                reason="r",
                key=name,
                payload={},
            )
        )
    db.flush()
    section = Scope(ScopeKind.SECTION, frozenset({two.a.id}), section_id=two.section_a.id)
    whole = Scope(ScopeKind.MUTUAL, frozenset({two.a.id}))
    other = Scope(ScopeKind.MUTUAL, frozenset({two.b.id}))
    cards = select(FacilityCheck.card_number)
    assert set(db.scalars(scoped(cards, FacilityCheck, section))) == {"N-1"}
    assert set(db.scalars(scoped(cards, FacilityCheck, whole))) == {"N-1", "B-1"}
    assert set(db.scalars(scoped(cards, FacilityCheck, other))) == set()
    events = select(HouseholdEvent.key)
    assert set(db.scalars(scoped(events, HouseholdEvent, section))) == {"north"}
    assert set(db.scalars(scoped(events, HouseholdEvent, whole))) == {"north", "bare"}
