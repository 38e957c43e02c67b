"""Chaos on the USSD webhook (ussd.md, Engine semantics; issue acceptance 2): concurrent and
late duplicates, `*` inside an input, deep dials, expired sessions, Redis down, failed commits,
malformed requests, token and allowlist. On SQLite and on PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import FixedClock
from gateway.menus.engine.screens import Ctx
from gateway.menus.engine.store import HopStore, SessionStore
from gateway.menus.journeys import registry
from gateway.models import Household
from tests.support import dialogue
from tests.support.dialogue import Phone, make_ussd_app, post_hop
from tests.support.factories import make_household, make_mutual
from tests.support.redis_url import redis_url_of

PHONE = "+22670123412"
APOLOGY = "Service momentanement indisponible. Merci de reessayer dans quelques minutes."

# The dialogue fixtures (an app on the test database and Redis, its client).
ussd_app, client = dialogue.ussd_app, dialogue.client


@pytest.fixture
def household(db: Session) -> Household:
    found = make_household(db, make_mutual(db), members=2, phone=PHONE)
    db.commit()
    return found


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every run of the reminders action, recorded: "one effect" is one call."""
    calls: list[str] = []
    original = registry().actions["set_reminders"]

    def counting(ctx: Ctx[Any], value: str) -> str | None:
        calls.append(value)
        return original(ctx, value)

    monkeypatch.setitem(registry().actions, "set_reminders", counting)
    return calls


def reminders(factory: sessionmaker[Session], household_id: int) -> tuple[bool, object]:
    with factory() as session:
        row = session.get(Household, household_id)
        assert row is not None
        return row.reminders_enabled, row.reminders_changed_at


def concurrently(app: Flask, form: dict[str, str], times: int = 5) -> list[str]:
    """The same hop `times` times at once, each from its own thread and client."""
    barrier = threading.Barrier(times)
    bodies: list[str] = [""] * times

    def send(i: int) -> None:
        web = app.test_client()
        barrier.wait()
        answer = web.post("/ussd/africastalking", data=form)
        bodies[i] = f"{answer.status_code} {answer.get_data(as_text=True)}"

    threads = [threading.Thread(target=send, args=(i,)) for i in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return bodies


def test_same_hop_five_times_at_once_one_effect(
    ussd_app: Flask,
    client: FlaskClient,
    household: Household,
    counted: list[str],
    session_factory: sessionmaker[Session],
) -> None:
    """5 identical replies, the reminders stopped once (one action run, one change time)."""
    phone = Phone(client, PHONE)
    phone.walk("4")
    phone.inputs.append("2")
    bodies = concurrently(ussd_app, phone.form())
    assert len(set(bodies)) == 1, bodies
    assert bodies[0].startswith("200 END Rappels SMS arretes.")
    assert counted == ["2"]
    assert reminders(session_factory, household.id)[0] is False


def test_first_hop_five_times_at_once(
    ussd_app: Flask, client: FlaskClient, household: Household
) -> None:
    phone = Phone(client, PHONE)
    phone.session_id = "ATUid_burst"
    bodies = concurrently(ussd_app, phone.form(""))
    assert len(set(bodies)) == 1 and bodies[0].startswith("200 CON Menage")


def test_repeated_hop_changes_nothing(
    client: FlaskClient, household: Household, counted: list[str], clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    phone = Phone(client, PHONE)
    first = phone.walk("4", "2")
    changed = reminders(session_factory, household.id)
    clock.advance(minutes=1)
    assert phone.resend() == first
    assert counted == ["2"] and reminders(session_factory, household.id) == changed


def test_late_duplicate_of_an_old_hop_changes_nothing(
    client: FlaskClient, household: Household, counted: list[str],
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    """An old `text` gets its old reply; the session carries on from where it really is."""
    phone = Phone(client, PHONE)
    menu = phone.dial()
    screen = phone.send("4")
    assert phone.send("0") == menu
    late = post_hop(client, phone.form("4"))
    assert late == screen
    assert phone.send("3").lines[0] == "Derniers paiements"  # "4*0*3": still at the menu
    assert counted == [] and reminders(session_factory, household.id)[0] is True


def test_input_containing_a_star_is_one_input(client: FlaskClient, household: Household) -> None:
    """`stored*12*34`: the one new input is `12*34` (typed by the member), not two inputs."""
    phone = Phone(client, "+22665000000")  # a visitor
    phone.walk("1")
    reply = phone.send("12*34")
    assert reply.lines[:2] == ["Tapez les chiffres du numero.", "Numero du beneficiaire (carte):"]
    assert phone.send(household.beneficiaries[0].number).end


def test_deep_dial_on_the_first_hop(
    client: FlaskClient, household: Household, session_factory: sessionmaker[Session]
) -> None:
    """`text` = "1" on the first hop (*144*7*1#) replays from the start: the coverage."""
    assert Phone(client, PHONE).dial("1").lines[0] == "PAS A JOUR"
    reply = Phone(client, PHONE).dial("4*2")
    assert reply.end and reply.text.startswith("Rappels SMS arretes.")
    assert reminders(session_factory, household.id)[0] is False


def test_divergent_history_is_replayed(client: FlaskClient, household: Household) -> None:
    """A text that neither repeats nor extends the last one is replayed input by input."""
    phone = Phone(client, PHONE)
    phone.walk("1")
    assert post_hop(client, phone.form("3")).lines[0] == "Derniers paiements"
    assert post_hop(client, phone.form("1*0*5")).lines[0] == "Choisissez la langue:"
    # An extension of the last text is one input, even with a `*` in it.
    assert post_hop(client, phone.form("1*0*5*0*1")).lines[0] == "Choix invalide."


def test_expired_session_restarts_cleanly(
    client: FlaskClient, household: Household, redis_client: redis.Redis[bytes],
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    """The Redis record gone (TTL), the next hop replays its whole text from the start."""
    phone = Phone(client, PHONE)
    phone.walk("1")
    redis_client.delete(SessionStore.key("africastalking", phone.session_id))
    assert phone.send("0").lines[0] == f"Menage {household.number}"
    phone.send("4")
    redis_client.delete(SessionStore.key("africastalking", phone.session_id))
    assert phone.send("2").text.startswith("Rappels SMS arretes.")
    assert reminders(session_factory, household.id)[0] is False


def test_session_ttl_is_refreshed(
    client: FlaskClient, household: Household, redis_client: redis.Redis[bytes]
) -> None:
    phone = Phone(client, PHONE)
    phone.walk("1")
    assert 590 <= redis_client.ttl(SessionStore.key("africastalking", phone.session_id)) <= 600


@pytest.fixture
def dead_redis_app(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    app = make_ussd_app(database_url, "redis://127.0.0.1:1/0", tmp_path / "var2", clock)
    yield app
    app.extensions["gateway"].close()


def test_redis_down_short_apology(
    dead_redis_app: Flask, household: Household, session_factory: sessionmaker[Session]
) -> None:
    """ussd.md: Redis unavailable -> HTTP 200 `END` apology, nothing changed."""
    phone = Phone(dead_redis_app.test_client(), PHONE)
    reply = phone.dial("4*2")
    assert reply.end and reply.text == APOLOGY
    assert reminders(session_factory, household.id) == (True, None)


def test_redis_lost_mid_hop_commits_nothing(
    client: FlaskClient, household: Household, monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    """The action ran and flushed, then Redis failed while the state was written back (the
    write-back pipeline, with the unlock): rolled back, apology, retry works."""
    phone = Phone(client, PHONE)
    phone.walk("4")

    def fail(hop: HopStore, _state: object) -> None:
        hop.writes.append(("eval", ("return redis.error_reply('connection lost')", 0), {}))

    with monkeypatch.context() as patch:
        patch.setattr(HopStore, "save", fail)
        assert phone.send("2").text == APOLOGY
    assert reminders(session_factory, household.id)[0] is True
    assert phone.resend().text.startswith("Rappels SMS arretes.")
    assert reminders(session_factory, household.id)[0] is False


def test_failed_commit_apologises_and_forgets_the_session(
    client: FlaskClient, household: Household, monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    phone = Phone(client, PHONE)
    phone.walk("4")
    original = Session.commit
    failures = [OperationalError("COMMIT", {}, Exception("disk I/O error"))]

    def commit(self: Session) -> None:
        if failures:
            raise failures.pop()
        original(self)

    monkeypatch.setattr(Session, "commit", commit)
    assert phone.send("2").text == APOLOGY
    assert reminders(session_factory, household.id)[0] is True
    assert phone.resend().text.startswith("Rappels SMS arretes.")  # replayed, applied once
    assert reminders(session_factory, household.id)[0] is False


@pytest.mark.parametrize("where", ["hop", "commit"])
def test_a_database_outage_is_one_warning_line_per_hop(
    client: FlaskClient, household: Household, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, where: str,
) -> None:  # fmt: skip
    """A database that does not answer is an outage, not a bug: the member gets the apology,
    the log one warning line per hop, not a traceback (issue 15)."""
    phone = Phone(client, PHONE)
    phone.walk("4")
    down = OperationalError("SELECT 1", {}, Exception("server closed the connection\nDETAIL"))

    def fail(*_args: object, **_kwargs: object) -> None:
        raise down

    target = (Session, "commit") if where == "commit" else (Session, "execute")
    with monkeypatch.context() as patch, caplog.at_level("WARNING"):
        patch.setattr(*target, fail)
        assert phone.send("2").text == APOLOGY
    ours = [r for r in caplog.records if r.name.startswith("gateway")]
    assert [r.levelname for r in ours] == ["WARNING"], [r.getMessage() for r in ours]
    assert ours[0].exc_info is None
    assert "database unavailable): OperationalError: server closed the connection" in (
        ours[0].getMessage()
    )
    assert phone.resend().text.startswith("Rappels SMS arretes.")  # served once it is back


FORM = {"sessionId": "S1", "serviceCode": "*144*7#", "phoneNumber": PHONE, "text": ""}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sessionId": None}, "sessionId is required"),
        ({"phoneNumber": None}, "phoneNumber is required"),
        ({"text": None}, "text is required"),
        ({"sessionId": ""}, "sessionId is required"),
        ({"sessionId": "x" * 200}, "sessionId longer than 128"),
        ({"phoneNumber": "12"}, "phoneNumber is not an international phone number"),
        ({"phoneNumber": "abc"}, "phoneNumber is not an international phone number"),
        ({"phoneNumber": ""}, "phoneNumber is required"),
        ({"text": "1*\x07"}, "text contains a control character"),
        ({"text": "1" * 600}, "text longer than 500"),
        ({"serviceCode": "*" * 40}, "serviceCode longer than"),
    ],
)
def test_malformed_form_is_400_with_reason(
    client: FlaskClient, change: dict[str, str | None], reason: str
) -> None:
    form = {k: v for k, v in {**FORM, **change}.items() if v is not None}
    answer = client.post("/ussd/africastalking", data=form)
    assert answer.status_code == 400
    assert reason in answer.get_data(as_text=True)


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    answer = client.post("/ussd/africastalking", data={**FORM, "text": "1" * 70_000})
    assert answer.status_code == 413
    assert "larger than" in answer.get_data(as_text=True)


def test_json_body_is_400_not_500(client: FlaskClient) -> None:
    answer = client.post("/ussd/africastalking", json=FORM)
    assert answer.status_code == 400


AppMaker = Callable[..., Flask]


@pytest.fixture
def app_with(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path, clock: FixedClock
) -> Iterator[AppMaker]:
    built: list[Flask] = []

    def make(**env: str) -> Flask:
        app = make_ussd_app(database_url, redis_url_of(redis_client), tmp_path / "v", clock, **env)
        built.append(app)
        return app

    yield make
    for app in built:
        app.extensions["gateway"].close()


def test_token_is_required_when_set(app_with: AppMaker, household: Household) -> None:
    web = app_with(GATEWAY_USSD_TOKEN="s3cret").test_client()
    for query in ("", "?token=wrong"):
        answer = web.post(f"/ussd/africastalking{query}", data=FORM)
        assert answer.status_code == 403
        assert "token" in answer.get_data(as_text=True)
    assert post_hop(web, FORM, "?token=s3cret").con


def test_ip_allowlist(app_with: AppMaker, household: Household) -> None:
    web = app_with(GATEWAY_ALLOWED_IPS="10.0.0.7").test_client()
    answer = web.post("/ussd/africastalking", data=FORM)
    assert answer.status_code == 403 and "address" in answer.get_data(as_text=True)
    allowed = web.post("/ussd/africastalking", data=FORM, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert allowed.status_code == 200


def test_household_deleted_mid_session_starts_again(
    db: Session, client: FlaskClient, household: Household
) -> None:
    """What the session remembers is gone: the hop starts again from who calls now (here,
    a visitor), replaying the text, instead of failing."""
    phone = Phone(client, PHONE)
    phone.dial()
    gone = db.get(Household, household.id)
    assert gone is not None
    for beneficiary in gone.beneficiaries:
        db.delete(beneficiary)
    db.delete(gone)
    db.commit()
    reply = phone.send("1")
    assert reply.con and reply.lines[0] == "Numero du beneficiaire (carte):"


def test_every_hop_is_audited_without_pin(
    db: Session, client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    """One audit row per hop: masked phone, the screen shown, the input (a PIN as `xxxx`)."""
    from gateway.models import UssdHop
    from gateway.services.agents.registry import add_agent

    add_agent(db, make_mutual(db), phone=PHONE, name="Ali", role="facility", pin="2580")
    db.commit()
    phone = Phone(client, PHONE)
    phone.walk("2580", "1")
    phone.resend()
    with session_factory() as session:
        rows = session.query(UssdHop).order_by(UssdHop.id).all()
        seen = [(r.screen, r.input_masked, r.phone_masked) for r in rows]
        assert all("2580" not in f"{r.input_masked}{r.reply}" for r in rows)
    assert seen == [
        ("agent_pin", "", "+22670****12"),
        ("agent_facility", "xxxx", "+22670****12"),
        ("agent_verify", "1", "+22670****12"),
        ("agent_verify", "1", "+22670****12"),
    ]


def test_an_audit_failure_does_not_break_the_hop(
    client: FlaskClient, household: Household, monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:  # fmt: skip
    from gateway.services import ussd_audit

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit table missing")

    monkeypatch.setattr(ussd_audit, "record_hop", broken)
    reply = Phone(client, PHONE).walk("4", "2")
    assert reply.text.startswith("Rappels SMS arretes.")
    assert reminders(session_factory, household.id)[0] is False


def test_letters_from_a_smartphone_reply_box_reprompt(
    client: FlaskClient, household: Household
) -> None:
    """Android USSD dialogs accept letters: not malformed, a wrong choice (ussd.md re-prompt)."""
    phone = Phone(client, PHONE)
    menu = phone.dial()
    for typed in ("a", "Un", "1a", "é"):
        reply = phone.send(typed)
        assert reply.con and reply.lines == ["Choix invalide.", *menu.lines], typed
    assert phone.send("1").con
