"""The two phone simulators: `GET /simulator` (the page, then the very HTTP calls its script
makes), `gateway ussd simulate` (scripted stdin), and a headless Chromium screenshot."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from gateway.app import create_app
from gateway.cli import main
from gateway.cli.ussd import SimulatedCall, converse
from gateway.models import Mutual
from gateway.services.agents.registry import add_agent
from gateway.settings import Settings
from tests.conftest import AppFactory
from tests.support.factories import make_household, make_mutual
from tests.support.redis_url import redis_url_of

HOP = "/ussd/africastalking"
MEMBER = "+22670123412"
CHROMIUM = Path("/usr/bin/chromium")
FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")


@pytest.fixture
def env(database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path) -> dict[str, str]:
    """The test database and Redis, as the environment a `gateway` process reads."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url_of(redis_client),
        "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        "GATEWAY_ENV": "test",
    }


@pytest.fixture
def make_app(env: dict[str, str]) -> Iterator[AppFactory]:
    built: list[Flask] = []

    def factory(settings: Settings | None = None, **overrides: str) -> Flask:
        app = create_app(settings or Settings.from_env(env | overrides))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield factory
    for app in built:
        app.extensions["gateway"].close()


@pytest.fixture
def member(db: Session) -> str:
    """A mutual with one household reachable from MEMBER, and a collector."""
    mutual = make_mutual(db, code="SIM")
    mutual.service_codes = ["*144*7#"]
    make_household(db, mutual, members=2, phone=MEMBER, number="10001")
    add_agent(db, mutual, phone="+22670000001", name="Ali", role="collector", pin="2580")
    db.commit()
    return MEMBER


def needs_webhook(app: Flask) -> None:
    if not any(rule.rule == HOP for rule in app.url_map.iter_rules()):
        pytest.skip("POST /ussd/africastalking (the USSD engine) is not in this checkout yet")


# --- the web page ---------------------------------------------------------------------


def test_page_has_the_keypad_the_form_fields_and_no_external_asset(
    make_app: AppFactory, member: str
) -> None:
    answer = make_app().test_client().get("/simulator")
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    for key in "0123456789*#":
        assert f'data-key="{key}"' in page
    assert 'id="call"' in page and 'id="cancel"' in page
    for name in FIELDS:
        assert name in page
    assert '"/ussd/africastalking"' in page and '"/ussd/africastalking/events"' in page
    assert "*144*7#" in page and member in page and "+22670000001" in page
    assert "SMS" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert '<link rel="stylesheet"' not in page and "@import" not in page


def test_page_carries_the_callback_token(make_app: AppFactory) -> None:
    page = make_app(GATEWAY_USSD_TOKEN="s3cret").test_client().get("/simulator")
    assert '"/ussd/africastalking?token=s3cret"' in page.get_data(as_text=True)


def test_page_is_404_in_production(make_app: AppFactory, env: dict[str, str]) -> None:
    settings = dataclasses.replace(Settings.from_env(env), env="production")
    assert make_app(settings).test_client().get("/simulator").status_code == 404


def test_the_pages_http_calls_drive_the_webhook(make_app: AppFactory, member: str) -> None:
    """What the page's script sends: one random sessionId per call, the inputs joined by `*`,
    then the end-of-session notification."""
    client = make_app().test_client()
    needs_webhook(client.application)
    form = {"sessionId": "SIMabc", "serviceCode": "*144*7#", "phoneNumber": member,
            "networkCode": "61302"}  # fmt: skip
    replies = []
    for text in ("", "1", "1*0"):
        answer = client.post(HOP, data=form | {"text": text})
        assert answer.status_code == 200
        replies.append(answer.get_data(as_text=True))
    assert [r[:4] for r in replies] == ["CON ", "CON ", "CON "]
    assert replies[2] == replies[0]  # 0 goes back to the main menu
    assert all(len(r) - 4 <= 160 for r in replies)
    event = form | {"status": "Incomplete", "hopsCount": "3", "input": "1*0", "cost": "XOF 0"}
    assert client.post(f"{HOP}/events", data=event).status_code == 200


# --- the terminal phone ---------------------------------------------------------------


class FakeWebhook:
    """A two-screen service that records what the simulator posts."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str]]] = []

    def __call__(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        self.posts.append((path, form))
        if path.startswith(f"{HOP}/events"):
            return 200, "OK\n"
        last = form["text"].split("*")[-1]
        if last == "2":
            return 200, "END Aide: 70 00 00 09"
        if last == "9":
            return 500, "boom"
        return 200, "CON Menu\n1 Couverture\n2 Aide"


def test_converse_accumulates_text_and_reports_the_end() -> None:
    hook = FakeWebhook()
    call = SimulatedCall(hook, MEMBER, "*144*7#", "61302", token="t k")
    converse(call, "", StringIO("1\n1*3\n2\n"))
    hops = [form for path, form in hook.posts if path.startswith(f"{HOP}?")]
    assert [form["text"] for form in hops] == ["", "1", "1*1*3", "1*1*3*2"]
    assert {form["sessionId"] for form in hops} == {call.session_id}
    assert all(path.endswith("?token=t+k") for path, _ in hook.posts)
    path, event = hook.posts[-1]
    assert path.startswith(f"{HOP}/events?")
    assert (event["status"], event["hopsCount"], event["input"]) == ("Success", "4", "1*1*3*2")
    assert event["lastAppResponse"] == "END Aide: 70 00 00 09"


def test_converse_hangs_up_on_end_of_input() -> None:
    hook = FakeWebhook()
    converse(SimulatedCall(hook, MEMBER, "*144*7#", "61302"), "1", StringIO("1\n"))
    texts = [form.get("text") for _, form in hook.posts]
    assert texts == ["1", "1*1", None]
    assert hook.posts[-1][1]["status"] == "Incomplete"


def test_simulate_reports_a_failing_webhook(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = CliRunner().invoke(
        main, ["ussd", "simulate", "--phone", MEMBER, "--url", "http://127.0.0.1:1"], env=env
    )
    assert unreachable.exit_code == 1
    assert "cannot reach http://127.0.0.1:1" in unreachable.output
    bad = CliRunner().invoke(main, ["ussd", "simulate", "--phone", "12"], env=env)
    assert bad.exit_code == 2 and "--phone" in bad.output


def test_simulate_in_process(env: dict[str, str], member: str, make_app: AppFactory) -> None:
    needs_webhook(make_app())
    result = CliRunner().invoke(main, ["ussd", "simulate", "--phone", "70 12 34 12"], env=env,
                                input="1\n0\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{member} dials *144*7# (in-process;" in result.output
    assert result.output.count(" CON ") == 3 and "(hung up)" in result.output


def test_simulate_dials_the_code_the_mutual_declares(
    env: dict[str, str], db: Session, member: str, make_app: AppFactory
) -> None:
    """Without --service-code the simulator dials the first code a mutual declares, not a
    fixed default that the gateway would answer "service not available"."""
    needs_webhook(make_app())
    db.scalars(select(Mutual).where(Mutual.code == "SIM")).one().service_codes = ["*384*55#"]
    db.commit()
    result = CliRunner().invoke(main, ["ussd", "simulate", "--phone", "70 12 34 12"], env=env,
                                input="1\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{member} dials *384*55# (in-process;" in result.output
    assert result.output.count(" CON ") == 2


@pytest.fixture
def served(make_app: AppFactory) -> Iterator[str]:
    """The app behind a real local HTTP server, as `make run` serves it."""
    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_simulate_over_http(env: dict[str, str], member: str, served: str) -> None:
    result = CliRunner().invoke(main, ["ussd", "simulate", "--phone", member, "--url", served],
                                env=env, input="1\n")  # fmt: skip
    if "HTTP 404" in result.output:
        pytest.skip("POST /ussd/africastalking is not in this checkout yet")
    assert result.exit_code == 0, result.output
    assert f"({served};" in result.output and result.output.count(" CON ") == 2


# --- the screenshot -------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_screenshot_in_headless_chromium(served: str, member: str, tmp_path: Path) -> None:
    """`make screenshot` runs this with SIMULATOR_SCREENSHOT=var/screenshots/simulator.png."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium, or `make screenshot`)")
    target = Path(os.environ.get("SIMULATOR_SCREENSHOT") or tmp_path / "simulator.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "chromium-profile"
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={target}",
            "--window-size=420,860", "--hide-scrollbars", "--virtual-time-budget=5000",
            f"{served}/simulator?call=1"]  # fmt: skip
    if target.exists():
        target.unlink()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    shutil.rmtree(profile, ignore_errors=True)
    assert target.exists(), done.stderr[-2000:]
    assert png_size(target) == (420, 860)
    assert target.stat().st_size > 10_000  # a drawn page, not a blank one


# --- the SMS panel ----------------------------------------------------------------------


def test_the_sms_panel_shows_the_phones_outbox(make_app: AppFactory, member: str) -> None:
    """The page polls GET /simulator/sms?phone=...: the sandbox sink's messages to that
    phone, newest first; here the acknowledgement of an inbound ARRET (messaging.md)."""
    client = make_app().test_client()
    page = client.get("/simulator").get_data(as_text=True)
    assert 'id="smsList"' in page and '"/simulator/sms"' in page and "refreshSms" in page
    empty = client.get("/simulator/sms", query_string={"phone": member})
    assert empty.status_code == 200 and empty.get_json() == {"phone": member, "messages": []}
    inbound = {"from": member, "to": "20880", "text": "arret", "id": "in-1",
               "date": "2026-11-24 10:00:00"}  # fmt: skip
    assert client.post("/sms/africastalking/inbound", data=inbound).status_code == 200
    shown = client.get("/simulator/sms", query_string={"phone": member}).get_json()
    (message,) = shown["messages"]
    assert message["template"] == "optout_ack" and message["status"] in ("QUEUED", "SENT")
    assert "REPRENDRE" in message["text"]
    national = client.get("/simulator/sms", query_string={"phone": "+226 70 12 34 12"})
    assert national.get_json()["messages"] == shown["messages"]


@pytest.mark.parametrize(
    ("query", "reason"), [({}, "phone is required"), ({"phone": "abc"}, "E.164")]
)
def test_the_sms_panel_rejects_a_bad_phone(
    make_app: AppFactory, query: dict[str, str], reason: str
) -> None:
    answer = make_app().test_client().get("/simulator/sms", query_string=query)
    assert answer.status_code == 400 and reason in answer.get_json()["error"]


def test_the_sms_panel_is_404_in_production(make_app: AppFactory, env: dict[str, str]) -> None:
    settings = dataclasses.replace(Settings.from_env(env), env="production")
    client = make_app(settings).test_client()
    assert client.get("/simulator/sms", query_string={"phone": MEMBER}).status_code == 404
