"""The USSD engine's parts (ussd.md, Engine semantics): rendering (GSM-7, budget, pagination),
the provider adapter, the Redis store and its lock, idempotent hops straight on the engine,
the per-network budget, resume after a dropped session, and the query count of a hop."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any
from unittest import mock

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.menus.engine import catalog
from gateway.menus.engine.port import MalformedUssdRequest, UssdReply, UssdRequest
from gateway.menus.engine.render import (
    GSM7,
    clean,
    item_keys,
    non_gsm,
    paginate,
    short_name,
    to_gsm,
)
from gateway.menus.engine.store import Frame, SessionBusy, SessionState, SessionStore
from gateway.menus.hop import Engine, note_session_end
from gateway.providers.africastalking.ussd import AfricasTalkingUssd
from gateway.settings import Settings
from tests.support import dialogue
from tests.support.dialogue import Phone
from tests.support.factories import make_household, make_mutual

PHONE = "+22670123412"

# The dialogue fixtures (an app on the test database and Redis, its client).
ussd_app, client = dialogue.ussd_app, dialogue.client


# --- rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("Vérifier", "Verifier"),
        ("Reçu", "Recu"),
        ("cœur Œuvre", "coeur OEuvre"),
        ("l’adhérent", "l'adherent"),
        ("« à jour »", '" a jour "'),
        ("Bientôt – déjà…", "Bientot - deja..."),
        ("Keïta Yaméogo", "Keita Yameogo"),
        ("8\u202f750 FCFA", "8 750 FCFA"),
    ],
)
def test_transliteration_to_plain_gsm7(raw: str, plain: str) -> None:
    """ussd.md: accents transliterated at render time (é -> e, ç -> c, ...)."""
    assert to_gsm(raw) == plain
    assert not non_gsm(plain)


def test_what_has_no_gsm7_spelling_fails_strict_and_is_masked_otherwise() -> None:
    assert non_gsm(to_gsm("名前")) == "前名"
    with pytest.raises(ValueError, match="non GSM-7"):
        clean("Awa 名前", strict=True)
    assert clean("Awa 名前") == "Awa ??"
    assert set(clean("«Œ»")) <= GSM7


def test_item_numbers_skip_reserved_keys() -> None:
    keys = list(item_keys(99))
    assert "98" not in keys and "0" not in keys and len(keys) == 99
    assert list(item_keys(3, taken=("1",))) == ["2", "3", "4"]


def test_pagination_fits_and_keeps_every_item_once() -> None:
    items = [f"Item {i}: " + "x" * (i * 7 % 40) for i in range(23)]
    pages = paginate(["Title"], items, ["0 Back 00 Home"], "98 More", 100)
    assert all(len(page) <= 100 for page in pages)
    shown = [line for page in pages for line in page.split("\n") if line.startswith("Item")]
    assert shown == items
    assert all(page.split("\n")[-2] == "98 More" for page in pages[:-1])
    assert "98 More" not in pages[-1]
    assert pages[0].startswith("Title")


def test_short_names() -> None:
    assert short_name("Aminata Ouedraogo") == "Aminata O."
    assert short_name("Awa") == "Awa"
    assert short_name("  ") == "-"


def test_amounts_and_dates_per_language() -> None:
    """D2: whole FCFA with grouped thousands; dates dd/mm/yyyy."""
    fr, en = catalog.Translator("fr"), catalog.Translator("en")
    assert to_gsm(fr.amount(9_999_999)) == "9 999 999 FCFA"
    assert en.amount(8750) == "8,750 FCFA"
    assert fr.date(dt.date(2026, 3, 1)) == "01/03/2026"


# --- provider adapter ---------------------------------------------------------------------


def test_africastalking_parse_and_format() -> None:
    provider = AfricasTalkingUssd()
    request = provider.parse(
        {
            "sessionId": "ATUid_1",
            "serviceCode": "*144*7#",
            "phoneNumber": " 22670123412",  # the `+` decoded as a space
            "networkCode": "61302",
            "text": "1*2",
        }
    )
    assert request == UssdRequest("ATUid_1", "*144*7#", PHONE, "61302", "1*2", "africastalking")
    assert provider.format(UssdReply("Hello", False, "x")) == (
        "CON Hello",
        "text/plain; charset=utf-8",
    )
    assert provider.format(UssdReply("Bye", True, "x"))[0] == "END Bye"
    with pytest.raises(MalformedUssdRequest, match="text is required"):
        provider.parse({"sessionId": "S", "phoneNumber": PHONE})


# --- store and lock -----------------------------------------------------------------------


def test_lock_serialises_hops_of_one_session(redis_client: redis.Redis[bytes]) -> None:
    store = SessionStore(redis_client)
    order: list[str] = []

    def second() -> None:
        with store.hop("ussd:t:1"):
            order.append("second")

    with store.hop("ussd:t:1"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.05)
        order.append("first")
    thread.join(timeout=5)
    assert order == ["first", "second"]
    assert redis_client.get("ussd:t:1:lock") is None


def test_lock_never_frees_a_lock_it_lost(redis_client: redis.Redis[bytes]) -> None:
    """Compare-and-delete: a hop whose lock expired and went to another leaves it alone."""
    with SessionStore(redis_client).hop("ussd:t:3"):
        redis_client.set("ussd:t:3:lock", "another-hop")
    assert redis_client.get("ussd:t:3:lock") == b"another-hop"


def test_lock_gives_up_after_waiting(
    redis_client: redis.Redis[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.menus.engine.store.LOCK_WAIT_S", 0.05)
    redis_client.set("ussd:t:2:lock", "held", px=5000)
    with pytest.raises(SessionBusy), SessionStore(redis_client).hop("ussd:t:2"):
        pass


def test_hop_reads_and_writes_back_in_one_round_trip_each(redis_client: redis.Redis[bytes]) -> None:
    """Lock + state + the phone's last frame in one pipeline; writes + unlock in another."""
    store = SessionStore(redis_client)
    state = SessionState(frame=Frame("main"), origin=Frame("main"))
    executed: list[int] = []
    real = redis.client.Pipeline.execute

    def counted(pipe: redis.client.Pipeline[bytes], raise_on_error: bool = True) -> list[Any]:
        executed.append(len(pipe.command_stack))
        return real(pipe, raise_on_error)

    with mock.patch.object(redis.client.Pipeline, "execute", counted):
        with store.hop("ussd:t:5", "+22670000001") as hop:
            assert hop.state is None and hop.last is None
            hop.save(state)
            hop.save_last({"frame": vars(state.frame), "incomplete": False})
        with store.hop("ussd:t:5", "+22670000001") as hop:
            assert hop.state == state
            assert hop.last == {"frame": vars(state.frame), "incomplete": False}
            hop.forget_last()
    assert executed == [3, 3, 3, 2]  # set-nx, get, get | set, set, unlock | ... | del, unlock
    assert redis_client.get(store.last_key("+22670000001")) is None
    assert redis_client.get("ussd:t:5:lock") is None


def test_a_failed_hop_writes_nothing_back_and_frees_the_lock(
    redis_client: redis.Redis[bytes],
) -> None:
    store = SessionStore(redis_client)
    with pytest.raises(RuntimeError), store.hop("ussd:t:6", "+22670000001") as hop:
        hop.save(SessionState(frame=Frame("main"), origin=Frame("main")))
        hop.forget_last()
        raise RuntimeError("the hop failed")
    assert redis_client.get("ussd:t:6") is None
    assert redis_client.get("ussd:t:6:lock") is None


# --- the engine, without HTTP -------------------------------------------------------------


@pytest.fixture
def machine(redis_client: redis.Redis[bytes], settings: Settings, clock: FixedClock) -> Engine:
    return Engine(redis_client, settings, clock)


def hop(machine: Engine, db: Session, text: str, session: str = "E1") -> UssdReply:
    return machine.handle(db, UssdRequest(session, "*144*7#", PHONE, "61302", text))


def test_engine_idempotent_hops(db: Session, machine: Engine) -> None:
    """Same text: stored reply; stored + `*` + new: one input; else replay."""
    household = make_household(db, make_mutual(db), phone=PHONE)
    menu = hop(machine, db, "")
    assert menu.text.startswith(f"Menage {household.number}") and not menu.end
    reminders = hop(machine, db, "4")
    assert reminders.screen == "member_reminders" and reminders.logged_input == "4"
    assert hop(machine, db, "4") == reminders
    stopped = hop(machine, db, "4*2")
    assert stopped.end and household.reminders_enabled is False
    after = hop(machine, db, "4*2*1")  # the session is over: nothing more happens
    assert (after.text, after.end, after.screen) == (stopped.text, True, stopped.screen)
    assert hop(machine, db, "", session="E2") == menu  # a new session starts afresh


def test_engine_never_keeps_a_pin_in_redis(
    db: Session, machine: Engine, redis_client: redis.Redis[bytes]
) -> None:
    from gateway.services.agents.registry import add_agent

    mutual = make_mutual(db)
    add_agent(db, mutual, phone=PHONE, name="Ali", role="facility", pin="2580")
    hop(machine, db, "")
    reply = hop(machine, db, "2580")
    assert reply.screen == "agent_facility" and reply.logged_input == "xxxx"
    replayed = hop(machine, db, "2580*1", session="E9")  # a deep dial, replayed
    assert replayed.logged_input == "xxxx*1"
    for key in redis_client.keys("ussd:*"):
        assert b"2580" not in (redis_client.get(key) or b"")


def test_per_network_budget(
    db: Session, machine: Engine, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A network listed in NETWORK_SCREEN_LIMITS gets its own, smaller, screen budget."""
    monkeypatch.setitem(catalog.NETWORK_SCREEN_LIMITS, "61399", 130)
    household = make_household(db, make_mutual(db), members=7, phone=PHONE)
    for ben in household.beneficiaries:
        ben.full_name = "Fatoumata Ouedraogo"
    request = UssdRequest("N1", "*144*7#", PHONE, "61399", "1")
    pages = [machine.handle(db, request)]
    text = "1"
    while "98 Suite" in pages[-1].text:
        text += "*98"
        pages.append(machine.handle(db, UssdRequest("N1", "*144*7#", PHONE, "61399", text)))
    assert len(pages) > 2 and all(len(p.text) <= 130 for p in pages)
    assert catalog.screen_budget(machine.settings, "61302") == 160


def test_a_hop_takes_a_handful_of_queries(db: Session, machine: Engine) -> None:
    """No N+1: the coverage of a 7-member household costs the same few queries as of one."""
    counts = []
    queries: list[str] = []

    def count(*args: object) -> None:
        queries.append(str(args[2]))

    for size in (1, 7):
        phone = f"+2267012340{size}"
        make_household(db, make_mutual(db, code=f"M{size}"), members=size, phone=phone)
        db.expunge_all()  # as in a request: nothing already loaded
        queries.clear()
        event.listen(db.get_bind(), "before_cursor_execute", count)
        try:
            machine.handle(db, UssdRequest(f"Q{size}", "", phone, None, "1"))  # deep dial
        finally:
            event.remove(db.get_bind(), "before_cursor_execute", count)
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[1] <= 10, counts


# --- resume (ussd.md) ---------------------------------------------------------------------


def test_resume_after_an_incomplete_session(
    db: Session, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    """Dropped inside a flow: the next dial offers 1 Continuer / 2 Recommencer."""
    household = make_household(db, make_mutual(db), phone=PHONE)
    db.commit()
    phone = Phone(client, PHONE)
    screen = phone.walk("5")
    note_session_end(redis_client, PHONE, "Incomplete")
    offer = phone.dial()
    assert offer.lines == [
        "Votre session precedente a ete interrompue.",
        "1 Continuer",
        "2 Recommencer",
    ]
    assert phone.send("1") == screen
    assert phone.send("0").lines[0] == f"Menage {household.number}"
    note_session_end(redis_client, PHONE, "Incomplete")  # dropped at the menu: no offer
    assert phone.dial().lines[0] == f"Menage {household.number}"
    phone.walk("3")
    note_session_end(redis_client, PHONE, "Incomplete")
    assert phone.dial() == offer
    assert phone.send("2").lines[0] == f"Menage {household.number}"
    assert phone.send("9").lines[0] == "Choix invalide."


def test_no_resume_after_success_end_or_ten_minutes(
    db: Session, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    make_household(db, make_mutual(db), phone=PHONE)
    db.commit()
    phone = Phone(client, PHONE)
    phone.walk("4")
    note_session_end(redis_client, PHONE, "Success")
    assert "Continuer" not in phone.dial()
    phone.walk("4")
    note_session_end(redis_client, PHONE, "Incomplete")
    assert 590 <= redis_client.ttl(SessionStore(redis_client).last_key(PHONE)) <= 600  # 10 minutes
    redis_client.delete(SessionStore(redis_client).last_key(PHONE))  # as after 10 minutes
    assert "Continuer" not in phone.dial()
    phone.walk("4", "2")  # finished with END: nothing to resume
    note_session_end(redis_client, PHONE, "Incomplete")
    assert "Continuer" not in phone.dial()
    phone.walk("4")
    note_session_end(redis_client, PHONE, "Incomplete")
    assert "Continuer" not in phone.dial("1")  # a deep dial goes where it was asked


def test_resume_through_the_events_endpoint(
    db: Session, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    """The end-of-session notification (Incomplete) is what makes a session resumable."""
    make_household(db, make_mutual(db), phone=PHONE)
    db.commit()
    phone = Phone(client, PHONE)
    phone.walk("3")
    answer = client.post(
        "/ussd/africastalking/events",
        data={**phone.form(), "status": "Incomplete", "input": "3", "hopsCount": "2"},
    )
    if answer.status_code == 404:
        pytest.skip("events endpoint not registered")
    assert answer.status_code == 200
    assert "1 Continuer" in phone.dial()


def test_agents_are_not_offered_to_resume(
    db: Session, client: FlaskClient, redis_client: redis.Redis[bytes]
) -> None:
    """A dropped agent session asks for the PIN again rather than restoring a logged-in one."""
    from gateway.services.agents.registry import add_agent

    add_agent(db, make_mutual(db), phone=PHONE, name="Ali", role="facility", pin="2580")
    db.commit()
    phone = Phone(client, PHONE)
    phone.walk("2580", "1")
    note_session_end(redis_client, PHONE, "Incomplete")
    assert phone.dial().lines == ["Entrez votre code PIN agent:"]
