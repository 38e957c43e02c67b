"""The MTN MoMo adapter against the local fake of the Collection API (payments.md,
"Mobile-money collection"): X-Reference-Id from our reference on every retry, 409 = already
accepted, 404 = never received, unknown outcomes resolved by status, unsigned callbacks always
confirmed, the access token cached until it expires."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from gateway.providers.payments import payment_provider
from gateway.providers.payments.mtnmomo import MtnMomo, reference_id
from gateway.runtime import Runtime
from gateway.services.payments import (
    CallbackRejected,
    CallbackRequest,
    Initiation,
    InvalidProviderAnswer,
    PaymentRequest,
    ProviderError,
    ProviderState,
)
from gateway.settings import Settings
from tests.support.fakes.fixtures import FAKE_TIMEOUT_S
from tests.support.fakes.mtnmomo_fake import RTP, MtnMomoFake
from tests.support.fakes.server import CallbackSink

REF = "PAY-20261124-0001"
PHONE = "+22670123412"
BAD_AMOUNTS: list[Any] = ["100.5", "1e3", "-5", "0", "99999999999999999999", "", " 100", 100.5]


@pytest.fixture
def fake(mtnmomo_fake: MtnMomoFake) -> MtnMomoFake:
    return mtnmomo_fake


def payment(reference: str = REF, **overrides: Any) -> PaymentRequest:
    fields: dict[str, Any] = {
        "reference": reference,
        "amount": 1000,
        "currency": "XOF",
        "msisdn": PHONE,
        "description": "Cotisation 2027",
        "notify_url": "http://127.0.0.1:9/payments/mtnmomo/callback",
        **overrides,
    }
    return PaymentRequest(**fields)


def attempts(fake: MtnMomoFake) -> int:
    return len([r for r in fake.received("POST", RTP) if r.path == RTP])


def tokens(fake: MtnMomoFake) -> int:
    return len(fake.received("POST", "/collection/token/"))


def callback(body: Any, method: str = "PUT") -> CallbackRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return CallbackRequest(method, {"Content-Type": "application/json"}, {}, {}, raw)


# -- initiate --------------------------------------------------------------------------------


def test_request_to_pay_follows_the_documentation(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    result = mtnmomo.initiate(payment())
    assert result.outcome is Initiation.ACCEPTED
    (sent,) = [r for r in fake.received("POST", RTP) if r.path == RTP]
    assert sent.headers["x-reference-id"] == reference_id(REF)
    assert uuid.UUID(sent.headers["x-reference-id"])
    assert sent.headers["x-target-environment"] == "sandbox"
    assert sent.headers["x-callback-url"].endswith("/payments/mtnmomo/callback")
    assert sent.headers["authorization"].startswith("Bearer ")
    body = sent.json()
    assert body["amount"] == "1000" and body["currency"] == "XOF"
    assert body["externalId"] == REF
    assert body["payer"] == {"partyIdType": "MSISDN", "partyId": "22670123412"}


def test_reference_id_is_stable_and_keeps_uuids() -> None:
    ours = str(uuid.uuid4())
    assert reference_id(ours) == ours
    assert reference_id(REF) == reference_id(REF) != reference_id(REF + "x")
    assert uuid.UUID(reference_id(REF)).version == 5


def test_retry_with_the_same_reference_is_accepted_without_second_effect(
    mtnmomo: MtnMomo, fake: MtnMomoFake
) -> None:
    assert mtnmomo.initiate(payment()).outcome is Initiation.ACCEPTED
    again = mtnmomo.initiate(payment())
    assert again.outcome is Initiation.ACCEPTED and "409" in (again.reason or "")
    assert len(fake.payments) == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount": 0}, "out of range"),
        ({"amount": -1}, "out of range"),
        ({"amount": 10**13}, "out of range"),
        ({"msisdn": "70123412"}, "E.164"),
    ],
)
def test_bad_intents_are_refused_without_calling(
    mtnmomo: MtnMomo, fake: MtnMomoFake, overrides: dict[str, Any], reason: str
) -> None:
    result = mtnmomo.initiate(payment(**overrides))
    assert result.outcome is Initiation.REJECTED and reason in (result.reason or "")
    assert fake.requests == []


def test_refusal_4xx_is_rejected_with_the_reason(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    result = mtnmomo.initiate(payment(currency=""))
    assert result.outcome is Initiation.REJECTED
    assert result.reason and "400" in result.reason and "currency" in result.reason


def test_timeout_is_unknown_then_resolved_by_status_not_resent(
    mtnmomo: MtnMomo, fake: MtnMomoFake
) -> None:
    fake.script(REF, initiate_delay=FAKE_TIMEOUT_S[1] * 3)
    assert mtnmomo.initiate(payment()).outcome is Initiation.UNKNOWN
    status = mtnmomo.status(payment())
    assert status.state is ProviderState.SUCCEEDED
    assert attempts(fake) == 1


def test_5xx_after_the_request_left_is_unknown(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script(REF, initiate_http=500)
    result = mtnmomo.initiate(payment())
    assert result.outcome is Initiation.UNKNOWN and "500" in (result.reason or "")
    assert mtnmomo.status(payment()).state is ProviderState.SUCCEEDED
    assert attempts(fake) == 1


# -- token -----------------------------------------------------------------------------------


def test_token_is_cached_across_adapters(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    mtnmomo.initiate(payment("A"))
    mtnmomo.status(payment("A"))
    rebuilt = MtnMomo(fake.subscription_key, fake.api_user, fake.api_key, "sandbox", fake.url)
    rebuilt.initiate(payment("B"))
    assert tokens(fake) == 1
    (token_request,) = fake.received("POST", "/collection/token/")
    assert token_request.headers["ocp-apim-subscription-key"] == fake.subscription_key
    assert token_request.headers["authorization"].startswith("Basic ")


def test_token_is_renewed_when_it_expires(fake: MtnMomoFake) -> None:
    now = [1000.0]
    adapter = MtnMomo(
        fake.subscription_key,
        fake.api_user,
        fake.api_key,
        "sandbox",
        fake.url,
        clock=lambda: now[0],
    )
    adapter.initiate(payment("A"))
    now[0] += 3600 - 120  # still valid, with the safety margin
    adapter.initiate(payment("B"))
    assert tokens(fake) == 1
    now[0] += 100  # within the last minute: renewed before MTN would refuse it
    adapter.initiate(payment("C"))
    assert tokens(fake) == 2


def test_revoked_token_is_renewed_and_the_call_retried_once(
    mtnmomo: MtnMomo, fake: MtnMomoFake
) -> None:
    mtnmomo.initiate(payment("A"))
    fake.revoke_tokens()
    assert mtnmomo.initiate(payment("B")).outcome is Initiation.ACCEPTED
    assert tokens(fake) == 2 and len(fake.payments) == 2


def test_wrong_credentials_reject_before_any_request_to_pay(fake: MtnMomoFake) -> None:
    adapter = MtnMomo(fake.subscription_key, fake.api_user, "wrong", "sandbox", fake.url)
    result = adapter.initiate(payment())
    assert result.outcome is Initiation.REJECTED and "401" in (result.reason or "")
    assert attempts(fake) == 0
    with pytest.raises(ProviderError, match="token"):
        adapter.status(payment())


def test_missing_credentials_are_rejected(fake: MtnMomoFake) -> None:
    result = MtnMomo("", "", "", "sandbox", fake.url).initiate(payment())
    assert result.outcome is Initiation.REJECTED and "MTNMOMO_" in (result.reason or "")


# -- status ----------------------------------------------------------------------------------


def test_success_reads_amount_transaction_and_payer(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    mtnmomo.initiate(payment())
    status = mtnmomo.status(payment())
    assert status.state is ProviderState.SUCCEEDED
    assert (status.amount, status.currency, status.msisdn) == (1000, "XOF", PHONE)
    assert status.provider_txn_id == fake.by_external(REF).financial_id
    (query,) = fake.received("GET", RTP)
    assert query.path == f"{RTP}/{reference_id(REF)}"


def test_never_received_is_not_found_and_safe_to_initiate(
    mtnmomo: MtnMomo, fake: MtnMomoFake
) -> None:
    assert mtnmomo.status(payment()).state is ProviderState.NOT_FOUND
    assert mtnmomo.initiate(payment()).outcome is Initiation.ACCEPTED
    assert mtnmomo.status(payment()).state is ProviderState.SUCCEEDED


def test_accepted_then_not_found_then_found(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script(REF, not_found_polls=1)
    assert mtnmomo.initiate(payment()).outcome is Initiation.ACCEPTED
    assert mtnmomo.status(payment()).state is ProviderState.NOT_FOUND
    # the caller may initiate again with the same reference: MTN answers 409, no second payment
    assert mtnmomo.initiate(payment()).outcome is Initiation.ACCEPTED
    assert len(fake.payments) == 1
    assert mtnmomo.status(payment()).state is ProviderState.SUCCEEDED


def test_delayed_success_and_stuck_pending(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script("slow", pending_polls=2)
    fake.script("stuck", outcome="PENDING")
    for ref in ("slow", "stuck"):
        mtnmomo.initiate(payment(ref))
    slow = [mtnmomo.status(payment("slow")).state for _ in range(3)]
    assert slow == [ProviderState.PENDING, ProviderState.PENDING, ProviderState.SUCCEEDED]
    assert {mtnmomo.status(payment("stuck")).state for _ in range(3)} == {ProviderState.PENDING}


@pytest.mark.parametrize("reason", ["APPROVAL_REJECTED", "NOT_ENOUGH_FUNDS", "EXPIRED"])
def test_failure_carries_the_reason(mtnmomo: MtnMomo, fake: MtnMomoFake, reason: str) -> None:
    fake.script(REF, outcome="FAILED", reason=reason)
    mtnmomo.initiate(payment())
    status = mtnmomo.status(payment())
    assert status.state is ProviderState.FAILED and status.reason == reason
    assert status.provider_txn_id is None


def test_amount_differing_is_reported_as_is(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script(REF, amount="900")
    mtnmomo.initiate(payment())
    assert mtnmomo.status(payment()).amount == 900


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_unreadable_amount_is_invalid_never_rounded(
    mtnmomo: MtnMomo, fake: MtnMomoFake, amount: Any
) -> None:
    fake.script(REF, amount=amount)
    mtnmomo.initiate(payment())
    with pytest.raises(InvalidProviderAnswer, match="amount"):
        mtnmomo.status(payment())


def test_status_errors_are_provider_errors(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script("down", status_http=503)
    fake.script("slow", status_delay=FAKE_TIMEOUT_S[1] * 3)
    for ref in ("down", "slow"):
        mtnmomo.initiate(payment(ref))
    with pytest.raises(ProviderError, match="503"):
        mtnmomo.status(payment("down"))
    with pytest.raises(ProviderError, match="failed"):
        mtnmomo.status(payment("slow"))


# -- callbacks -------------------------------------------------------------------------------


def test_callback_is_unverified_and_needs_confirmation(
    mtnmomo: MtnMomo, fake: MtnMomoFake, callback_sink: CallbackSink
) -> None:
    mtnmomo.initiate(payment(notify_url=callback_sink.url + "/payments/mtnmomo/callback"))
    assert fake.send_callback(REF) == 200
    (received,) = callback_sink.received("PUT")
    event = mtnmomo.parse_callback(received.as_callback())
    assert event is not None
    assert not event.verified and event.needs_confirmation
    assert event.state is ProviderState.SUCCEEDED and event.reference == REF
    assert (event.amount, event.currency, event.msisdn) == (1000, "XOF", PHONE)
    assert event.provider_txn_id == fake.by_external(REF).financial_id


def test_duplicate_callbacks_share_a_key_reordered_ones_do_not(
    mtnmomo: MtnMomo, fake: MtnMomoFake, callback_sink: CallbackSink
) -> None:
    fake.script(REF, callbacks=2, callback_method="POST")
    mtnmomo.initiate(payment(notify_url=callback_sink.url + "/cb"))
    first, second = (mtnmomo.parse_callback(r.as_callback()) for r in callback_sink.wait_for(2))
    assert first is not None and second is not None and first.event_key == second.event_key
    late = mtnmomo.parse_callback(callback(fake.callback_body(REF, status="PENDING")))
    assert late is not None and late.state is ProviderState.PENDING
    assert late.event_key != first.event_key


def test_no_callback_unless_scripted(
    mtnmomo: MtnMomo, fake: MtnMomoFake, callback_sink: CallbackSink
) -> None:
    mtnmomo.initiate(payment(notify_url=callback_sink.url + "/cb"))
    assert mtnmomo.status(payment()).state is ProviderState.SUCCEEDED
    assert callback_sink.requests == []


def test_failed_callback_carries_reason(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script(REF, outcome="FAILED", reason="PAYER_NOT_FOUND")
    mtnmomo.initiate(payment())
    event = mtnmomo.parse_callback(callback(fake.callback_body(REF)))
    assert event is not None and event.state is ProviderState.FAILED
    assert event.reason == "PAYER_NOT_FOUND"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda body: body.pop("externalId"), "externalId"),
        (lambda body: body.update(status="DONE"), "status"),
        (lambda body: body.pop("currency"), "currency"),
        *[(lambda body, a=a: body.update(amount=a), "amount") for a in BAD_AMOUNTS],
    ],
)
def test_malformed_callbacks_are_rejected(
    mtnmomo: MtnMomo, fake: MtnMomoFake, mutate: Any, message: str
) -> None:
    mtnmomo.initiate(payment())
    body = fake.callback_body(REF)
    mutate(body)
    with pytest.raises(CallbackRejected, match=message):
        mtnmomo.parse_callback(callback(body))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (callback(b"not json"), "not JSON"),
        (callback(b"\xff\xfe"), "not JSON"),
        (callback([1, 2]), "JSON object"),
        (callback({}, method="GET"), "PUT or POST"),
    ],
)
def test_unreadable_callbacks_are_rejected(
    mtnmomo: MtnMomo, request_: CallbackRequest, message: str
) -> None:
    with pytest.raises(CallbackRejected, match=message):
        mtnmomo.parse_callback(request_)


def test_registry_builds_the_adapter_from_settings(
    fake_settings: Settings, mtnmomo_fake: MtnMomoFake
) -> None:
    adapter = payment_provider("mtnmomo", Runtime(fake_settings))
    assert adapter.name == "mtnmomo"
    assert adapter.initiate(payment()).outcome is Initiation.ACCEPTED
    assert adapter.status(payment()).state is ProviderState.SUCCEEDED


def test_scripted_refusal_keeps_nothing(mtnmomo: MtnMomo, fake: MtnMomoFake) -> None:
    fake.script(REF, initiate_http=403)
    result = mtnmomo.initiate(payment())
    assert result.outcome is Initiation.REJECTED and "PAYER_NOT_FOUND" in (result.reason or "")
    assert fake.payments == {}
    assert mtnmomo.status(payment()).state is ProviderState.NOT_FOUND


def test_connection_refused_is_unknown_and_status_fails(fake: MtnMomoFake) -> None:
    closed = MtnMomo("k", "u", "p", "sandbox", "http://127.0.0.1:9", timeout=FAKE_TIMEOUT_S)
    assert closed.initiate(payment()).outcome is Initiation.UNKNOWN  # resolved by status later
    with pytest.raises(ProviderError):
        closed.status(payment())


@pytest.mark.parametrize("expires_in", ["soon", None, -5])
def test_unreadable_token_lifetime_is_used_once_not_cached(
    mtnmomo: MtnMomo, fake: MtnMomoFake, expires_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = fake._token

    def odd_lifetime(request: Any) -> Any:
        reply = issue(request)
        reply.body["expires_in"] = expires_in
        return reply

    monkeypatch.setattr(fake, "_token", odd_lifetime)
    assert mtnmomo.initiate(payment("A")).outcome is Initiation.ACCEPTED
    assert mtnmomo.initiate(payment("B")).outcome is Initiation.ACCEPTED
    assert tokens(fake) == 2
