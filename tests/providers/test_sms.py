"""The Africa's Talking adapter against a local fake of its SMS API (the documented JSON
answer), and the sandbox sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.providers.africastalking.sms import AfricasTalkingSms, at_outcome
from gateway.providers.sms import SandboxSms, sms_provider
from gateway.settings import Settings
from tests.support.fake_at import FakeAt, running_fake_at

A, B = "+22670123456", "+22676543210"


@pytest.fixture
def fake() -> Iterator[tuple[FakeAt, str]]:
    with running_fake_at() as served:
        yield served


def adapter(url: str, read_timeout: float = 5.0) -> AfricasTalkingSms:
    return AfricasTalkingSms("gw-user", "secret-key", base_url=url, timeout=(2.0, read_timeout))


def test_accepted_with_the_sdk_request_format(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    state.codes = {A: 101, B: 102}
    results = adapter(url).send([A, B], "Bonjour", "MUSKOUD")
    assert [(r.phone, r.status_code, r.outcome) for r in results] == [
        (A, 101, "accepted"),
        (B, 102, "accepted"),
    ]
    assert results[0].message_id == f"ATXid_1_{A[-4:]}"
    (sent,) = state.requests
    assert sent["_path"] == ["/version1/messaging"]
    assert sent["_apikey"] == ["secret-key"]
    assert sent["username"] == ["gw-user"] and sent["from"] == ["MUSKOUD"]
    assert sent["to"] == [f"{A},{B}"] and sent["message"] == ["Bonjour"]
    assert "enqueue" not in sent


def test_answer_as_text_is_read_too(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    state.content_type = "text/plain"  # the SDK then hands back a str
    (result,) = adapter(url).send([A], "x", None)
    assert result.outcome == "accepted" and result.status_code == 101
    assert "from" not in state.requests[0]


def test_permanent_and_insufficient_balance(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    state.codes = {A: 403, B: 405}
    first, second = adapter(url).send([A, B], "x", None)
    assert (first.outcome, first.status_code, first.message_id) == ("permanent", 403, None)
    assert (second.outcome, second.status_code) == ("insufficient_balance", 405)


def test_server_errors_are_transient(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    state.codes = {A: 500, B: 501}
    assert [r.outcome for r in adapter(url).send([A, B], "x", None)] == ["transient"] * 2
    state.http_status = 401  # a non-2xx answer: nothing was accepted
    (result,) = adapter(url).send([A], "x", None)
    assert result.outcome == "transient" and "authentication" in (result.detail or "")


def test_a_timeout_after_the_request_left_is_unknown(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    state.delay_s = 1.0
    (result,) = adapter(url, read_timeout=0.3).send([A], "x", None)
    assert result.outcome == "unknown"
    assert len(state.requests) == 1


def test_nothing_listening_is_transient() -> None:
    (result,) = adapter("http://127.0.0.1:9").send([A], "x", None)
    assert result.outcome == "transient"


def test_recipients_must_be_strict_e164(fake: tuple[FakeAt, str]) -> None:
    state, url = fake
    results = adapter(url).send(["70123456", "+226 70123456", "+22612", A], "x", None)
    assert [r.outcome for r in results] == ["permanent", "permanent", "permanent", "accepted"]
    assert state.requests[0]["to"] == [A]
    assert adapter(url).send(["0022670123456"], "x", None)[0].outcome == "permanent"
    assert len(state.requests) == 1  # no valid recipient, no request


@pytest.mark.parametrize(
    ("code", "outcome"),
    [(100, "accepted"), (102, "accepted"), (401, "permanent"), (407, "permanent"),
     (502, "permanent"), (405, "insufficient_balance"), (500, "transient"),
     (501, "transient"), (None, "unknown"), (999, "unknown")],
)  # fmt: skip
def test_status_code_mapping(code: int | None, outcome: str) -> None:
    assert at_outcome(code) == outcome


def test_sandbox_accepts_and_settings_pick_the_provider() -> None:
    results = SandboxSms().send([A, B], "x", None)
    assert [r.outcome for r in results] == ["accepted", "accepted"]
    assert len({r.message_id for r in results}) == 2
    assert isinstance(sms_provider(Settings()), SandboxSms)
    chosen = sms_provider(Settings(sms_provider="africastalking", at_username="u", at_api_key="k"))
    assert isinstance(chosen, AfricasTalkingSms)
