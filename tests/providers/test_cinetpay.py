"""The CinetPay adapter against the local fake of its checkout API v2 (payments.md,
"Mobile-money collection"): intent first, one provider request per reference, unknown outcomes
resolved by the check API, notifications verified by x-token and still confirmed."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.payments import payment_provider
from gateway.providers.payments.cinetpay import CinetPay
from gateway.runtime import Runtime
from gateway.services.payments import (
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    Initiation,
    InvalidProviderAnswer,
    PaymentRequest,
    ProviderError,
    ProviderState,
)
from gateway.settings import Settings
from tests.support.fakes.cinetpay_fake import CinetPayFake
from tests.support.fakes.fixtures import FAKE_TIMEOUT_S
from tests.support.fakes.server import CallbackSink

REF = "PAY-20261124-0001"
PHONE = "+22670123412"
BAD_AMOUNTS = ["100.5", "1e3", "-5", "0", "99999999999999999999", "", " 100", "abc"]


def payment(reference: str = REF, **overrides: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "reference": reference,
        "amount": 1000,
        "currency": "XOF",
        "msisdn": PHONE,
        "description": "Cotisation 2027 #H-0042",
        "notify_url": "http://127.0.0.1:9/payments/cinetpay/callback",
        "settings": {"site_id": "445160"},
        **overrides,
    }
    return PaymentRequest(**fields)


def initiations(fake: CinetPayFake) -> int:
    return len(fake.received("POST", "/v2/payment")) - len(fake.received("POST", "/v2/payment/"))


def notify(form: dict[str, str], headers: dict[str, str], method: str = "POST") -> CallbackRequest:
    return CallbackRequest(method=method, headers=headers, args={}, form=form, body=b"")


# -- initiate --------------------------------------------------------------------------------


def test_initiate_sends_the_documented_payload_once(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    result = cinetpay.initiate(payment())
    assert result.outcome is Initiation.ACCEPTED
    assert result.provider_txn_id == REF
    assert result.redirect_url and "/pay/" in result.redirect_url
    (sent,) = cinetpay_fake.received("POST", "/v2/payment")
    body = sent.json()
    assert body["transaction_id"] == REF and body["site_id"] == "445160"
    assert body["amount"] == 1000 and isinstance(body["amount"], int)
    assert body["apikey"] == cinetpay_fake.api_key
    assert body["customer_phone_number"] == PHONE and body["lock_phone_number"] is True
    assert body["channels"] == "MOBILE_MONEY"
    assert "#" not in body["description"]  # the documentation bans # / $ _ &


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount": 1002}, "multiple of 5"),
        ({"amount": 0}, "out of range"),
        ({"amount": -5}, "out of range"),
        ({"amount": True}, "must be an int"),
        ({"msisdn": "70123412"}, "E.164"),
        ({"msisdn": "+22600000000"}, "not a valid"),
        ({"settings": {}}, "site_id"),
    ],
)
def test_initiate_refuses_bad_intents_without_calling(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, overrides: dict[str, Any], reason: str
) -> None:
    result = cinetpay.initiate(payment(**overrides))
    assert result.outcome is Initiation.REJECTED
    assert result.reason and reason in result.reason
    assert cinetpay_fake.requests == []


def test_initiate_rejected_by_cinetpay_gives_the_code(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    wrong_site = cinetpay.initiate(payment(settings={"site_id": "999"}))
    assert wrong_site.outcome is Initiation.REJECTED
    assert wrong_site.reason and "613" in wrong_site.reason
    cinetpay.api_key = "wrong"
    wrong_key = cinetpay.initiate(payment())
    assert wrong_key.outcome is Initiation.REJECTED and "609" in (wrong_key.reason or "")


def test_initiate_timeout_is_unknown_and_resolved_by_status_not_resent(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay_fake.script(REF, initiate_delay=FAKE_TIMEOUT_S[1] * 3)
    result = cinetpay.initiate(payment())
    assert result.outcome is Initiation.UNKNOWN
    status = cinetpay.status(payment())
    assert status.state is ProviderState.SUCCEEDED and status.amount == 1000
    assert initiations(cinetpay_fake) == 1


def test_initiate_5xx_is_unknown(cinetpay: CinetPay, cinetpay_fake: CinetPayFake) -> None:
    cinetpay_fake.script(REF, initiate_http=500)
    assert cinetpay.initiate(payment()).outcome is Initiation.UNKNOWN
    assert cinetpay.status(payment()).state is ProviderState.SUCCEEDED
    assert initiations(cinetpay_fake) == 1


def test_missing_api_key_is_rejected(cinetpay_fake: CinetPayFake) -> None:
    adapter = CinetPay("", "secret", cinetpay_fake.url)
    result = adapter.initiate(payment())
    assert result.outcome is Initiation.REJECTED and "CINETPAY_API_KEY" in (result.reason or "")


# -- status ----------------------------------------------------------------------------------


def test_status_success_reads_amount_as_int(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay.initiate(payment())
    status = cinetpay.status(payment())
    assert status.state is ProviderState.SUCCEEDED
    assert status.amount == 1000 and status.currency == "XOF" and status.provider_txn_id == REF
    (check,) = cinetpay_fake.received("POST", "/v2/payment/check")
    assert check.json() == {"apikey": "cp-api-key", "site_id": "445160", "transaction_id": REF}


def test_delayed_success_is_pending_then_succeeded(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay_fake.script(REF, pending_checks=2)
    cinetpay.initiate(payment())
    states = [cinetpay.status(payment()).state for _ in range(3)]
    assert states == [ProviderState.PENDING, ProviderState.PENDING, ProviderState.SUCCEEDED]


def test_stuck_pending_stays_pending(cinetpay: CinetPay, cinetpay_fake: CinetPayFake) -> None:
    cinetpay_fake.script(REF, outcome="pending")
    cinetpay.initiate(payment())
    assert {cinetpay.status(payment()).state for _ in range(4)} == {ProviderState.PENDING}


@pytest.mark.parametrize(
    ("code", "message"),
    [("600", "PAYMENT_FAILED"), ("602", "INSUFFICIENT_BALANCE"), ("627", "TRANSACTION_CANCEL")],
)
def test_failures_carry_their_reason(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, code: str, message: str
) -> None:
    cinetpay_fake.script(REF, outcome="failure", failure_code=code)
    cinetpay.initiate(payment())
    status = cinetpay.status(payment())
    assert status.state is ProviderState.FAILED
    assert status.reason and code in status.reason and message in status.reason


def test_amount_differing_is_reported_as_is(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay_fake.script(REF, amount="995")
    cinetpay.initiate(payment())
    assert cinetpay.status(payment()).amount == 995  # the core sees 995 != 1000


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_unreadable_amount_on_success_is_invalid_never_rounded(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, amount: str
) -> None:
    cinetpay_fake.script(REF, amount=amount)
    cinetpay.initiate(payment())
    with pytest.raises(InvalidProviderAnswer, match="amount"):
        cinetpay.status(payment())


def test_status_without_usable_answer_is_a_provider_error(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    with pytest.raises(ProviderError, match="TRANSACTION_NOT_FOUND"):
        cinetpay.status(payment())  # never initiated: CinetPay documents no not-found code
    cinetpay_fake.script(REF, check_http=503)
    cinetpay.initiate(payment())
    with pytest.raises(ProviderError, match="503"):
        cinetpay.status(payment())
    cinetpay_fake.script("slow", check_delay=FAKE_TIMEOUT_S[1] * 3)
    cinetpay.initiate(payment("slow"))
    with pytest.raises(ProviderError, match="check failed"):
        cinetpay.status(payment("slow"))


# -- notifications ---------------------------------------------------------------------------


def test_get_ping_is_not_an_event(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, callback_sink: CallbackSink
) -> None:
    assert cinetpay_fake.ping(callback_sink.url + "/payments/cinetpay/callback") == 200
    (ping,) = callback_sink.received("GET")
    assert cinetpay.parse_callback(ping.as_callback()) is None


def test_signed_notification_is_verified_but_still_needs_confirmation(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, callback_sink: CallbackSink
) -> None:
    cinetpay.initiate(payment(notify_url=callback_sink.url + "/payments/cinetpay/callback"))
    assert cinetpay_fake.send_notification(REF) == 200
    (posted,) = callback_sink.received("POST")
    event = cinetpay.parse_callback(posted.as_callback())
    assert event is not None
    assert event.verified and event.needs_confirmation
    assert event.state is ProviderState.SUCCEEDED
    assert (event.reference, event.provider_txn_id) == (REF, REF)
    assert (event.amount, event.currency, event.msisdn) == (1000, "XOF", PHONE)


def test_notification_read_from_raw_body(cinetpay: CinetPay, cinetpay_fake: CinetPayFake) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    from urllib.parse import urlencode

    request = CallbackRequest("POST", headers, {}, {}, urlencode(form).encode())
    event = cinetpay.parse_callback(request)
    assert event is not None and event.amount == 1000


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda form, headers: headers.clear(), "missing x-token"),
        (lambda form, headers: headers.update({"x-token": "0" * 64}), "does not match"),
        (lambda form, headers: headers.update({"x-token": "é" * 64}), "does not match"),
        (lambda form, headers: form.update({"cpm_amount": "100000"}), "does not match"),
        (lambda form, headers: form.update({"cpm_trans_id": "PAY-OTHER"}), "does not match"),
    ],
)
def test_bad_or_missing_token_is_forged(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, tamper: Any, message: str
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    tamper(form, headers)
    with pytest.raises(ForgedCallback, match=message):
        cinetpay.parse_callback(notify(form, headers))


def test_token_header_name_and_case_do_not_matter(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    event = cinetpay.parse_callback(notify(form, {"X-Token": headers["x-token"].upper()}))
    assert event is not None and event.verified


def test_without_secret_nothing_is_verified(
    cinetpay_fake: CinetPayFake, cinetpay: CinetPay
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    unconfigured = CinetPay("key", "", cinetpay_fake.url)
    with pytest.raises(ForgedCallback, match="CINETPAY_SECRET_KEY"):
        unconfigured.parse_callback(notify(form, headers))


@pytest.mark.parametrize("field", ["cpm_trans_id", "cpm_amount", "cpm_error_message"])
def test_missing_field_is_rejected_with_its_name(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, field: str
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    del form[field]
    with pytest.raises(CallbackRejected, match=field):
        cinetpay.parse_callback(notify(form, headers))


def test_empty_required_field_and_wrong_method_are_rejected(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF)
    with pytest.raises(CallbackRejected, match="PUT"):
        cinetpay.parse_callback(notify(form, headers, method="PUT"))
    form["cpm_site_id"] = ""
    with pytest.raises(CallbackRejected, match="cpm_site_id"):
        cinetpay.parse_callback(notify(form, headers))


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_signed_notification_with_unreadable_amount_is_rejected(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, amount: str
) -> None:
    cinetpay.initiate(payment())
    form, headers = cinetpay_fake.notification(REF, amount=amount or " ")
    with pytest.raises(CallbackRejected, match="cpm_amount"):
        cinetpay.parse_callback(notify(form, headers))


def test_duplicates_share_a_key_and_reordered_states_do_not(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, callback_sink: CallbackSink
) -> None:
    cinetpay_fake.script(REF, notify=2)
    cinetpay.initiate(payment(notify_url=callback_sink.url + "/cb"))
    first, second = (cinetpay.parse_callback(r.as_callback()) for r in callback_sink.wait_for(2))
    assert first is not None and second is not None
    assert first.event_key == second.event_key  # a redelivery: stored once
    late = cinetpay.parse_callback(notify(*cinetpay_fake.notification(REF, state="pending")))
    assert late is not None and late.state is ProviderState.PENDING
    assert late.event_key != first.event_key  # arrived after the success: ordered by precedence


def test_failed_notification_carries_the_reason(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake
) -> None:
    cinetpay_fake.script(REF, outcome="failure", failure_code="602")
    cinetpay.initiate(payment())
    event = cinetpay.parse_callback(notify(*cinetpay_fake.notification(REF)))
    assert event is not None and event.state is ProviderState.FAILED
    assert event.reason == "INSUFFICIENT_BALANCE" and event.needs_confirmation


def test_no_callback_unless_scripted(
    cinetpay: CinetPay, cinetpay_fake: CinetPayFake, callback_sink: CallbackSink
) -> None:
    cinetpay.initiate(payment(notify_url=callback_sink.url + "/cb"))
    assert cinetpay.status(payment()).state is ProviderState.SUCCEEDED
    assert callback_sink.requests == []


def test_registry_builds_the_adapter_from_settings(
    fake_settings: Settings, cinetpay_fake: CinetPayFake
) -> None:
    adapter = payment_provider("cinetpay", Runtime(fake_settings))
    assert adapter.name == "cinetpay"
    assert adapter.initiate(payment()).outcome is Initiation.ACCEPTED


def test_connection_refused_is_rejected_as_not_sent(cinetpay_fake: CinetPayFake) -> None:
    closed = CinetPay("key", "secret", "http://127.0.0.1:9", timeout=FAKE_TIMEOUT_S)
    result = closed.initiate(payment())
    assert result.outcome is Initiation.REJECTED and "not sent" in (result.reason or "")
