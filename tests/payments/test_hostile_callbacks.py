"""Hostile payment callbacks (issue 15, acceptance 3; interfaces.md HTTP: bad input is a 4xx
with its reason, never a 5xx): NUL bytes, fields longer than their column, a non-ASCII
signature, a status that is an object. Each is refused with a 400 (401 when a signed
provider's signature is wrong, as documented), the raw delivery is kept (NUL replaced), and
no event is recorded. A database *data* error is a 400, never "database unavailable"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import PaymentCallback, PaymentEvent
from gateway.providers.payments.cinetpay import NOTIFY_FIELDS, notify_token
from gateway.providers.payments.common import check_event
from gateway.providers.payments.sandbox import SIGNATURE_HEADER, sign
from gateway.services.payments import CallbackEvent, CallbackRejected, ProviderState
from tests.conftest import AppFactory

SANDBOX_SECRET = "dev-sandbox-secret"
CINETPAY_SECRET = "hostile-cinetpay-secret"
PHONE = "+22670123412"


@pytest.fixture
def app(make_app: AppFactory, session_factory: sessionmaker[Session]) -> Flask:
    """Through session_factory (engine), so PostgreSQL is emptied after each test."""
    return make_app(CINETPAY_SECRET_KEY=CINETPAY_SECRET)


def sandbox_body(**fields: Any) -> bytes:
    data = {
        "reference": "ref-1",
        "provider_txn_id": "SBX-1",
        "status": "SUCCESSFUL",
        "amount": 6000,
        "currency": "XOF",
        "msisdn": PHONE,
        **fields,
    }
    return json.dumps(data).encode()


def mtn_body(**fields: Any) -> bytes:
    data = {
        "externalId": "ref-1",
        "status": "SUCCESSFUL",
        "amount": "6000",
        "currency": "XOF",
        "financialTransactionId": "123",
        "payer": {"partyIdType": "MSISDN", "partyId": "22670123412"},
        **fields,
    }
    return json.dumps(data).encode()


def cinetpay_form(**fields: str) -> dict[str, str]:
    form = {name: "" for name in NOTIFY_FIELDS}
    form.update(
        cpm_site_id="1",
        cpm_trans_id="ref-1",
        cpm_amount="6000",
        cpm_currency="XOF",
        cel_phone_num="70123412",
        cpm_phone_prefixe="226",
        cpm_error_message="SUCCES",
    )
    form.update(fields)
    return form


def outcomes(factory: sessionmaker[Session]) -> list[str | None]:
    with factory() as session:
        return list(session.scalars(select(PaymentCallback.outcome)))


def events(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(PaymentEvent)) or 0)


def refused(answer: Any, status: int, reason: str) -> None:
    text = answer.get_data(as_text=True)
    assert answer.status_code == status, text
    assert reason in text, text


# -- sandbox (signed JSON) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (sandbox_body(reference="ref\x00"), "NUL"),
        (sandbox_body(reference="r" * 65), "reference longer than 64"),
        (sandbox_body(provider_txn_id="t" * 65), "provider_txn_id longer than 64"),
        (sandbox_body(reference="ref\x1b[2J"), "control character"),
        (b'{"reference":"a\x00"}', "NUL"),
    ],
)
def test_sandbox_signed_hostile_fields_get_400(
    app: Flask, session_factory: sessionmaker[Session], raw: bytes, reason: str
) -> None:
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SANDBOX_SECRET, raw)}
    answer = app.test_client().post("/payments/sandbox/callback", data=raw, headers=headers)
    refused(answer, 400, reason)
    assert outcomes(session_factory) == ["rejected"]
    assert events(session_factory) == 0


def test_sandbox_unsigned_nul_gets_400_and_is_stored_without_it(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """A raw NUL is refused before the signature is even read; the body kept has U+FFFD."""
    raw = b'{"reference":"a\x00b"}'
    answer = app.test_client().post("/payments/sandbox/callback", data=raw)
    refused(answer, 400, "NUL")
    with session_factory() as session:
        stored = session.scalars(select(PaymentCallback)).one()
    assert (stored.outcome, stored.body) == ("rejected", '{"reference":"a\ufffdb"}')


@pytest.mark.parametrize("signature", ["é" * 64, "\xff", "ü" + "0" * 63])
def test_sandbox_non_ascii_signature_is_forged_not_500(
    app: Flask, session_factory: sessionmaker[Session], signature: str
) -> None:
    raw = sandbox_body()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
    answer = app.test_client().post("/payments/sandbox/callback", data=raw, headers=headers)
    refused(answer, 401, SIGNATURE_HEADER)
    assert outcomes(session_factory) == ["forged"]


# -- MTN MoMo (unsigned JSON) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (mtn_body(externalId="ref\x00"), "NUL"),
        (mtn_body(externalId="r" * 65), "reference longer than 64"),
        (mtn_body(currency="XOFXOF"), "currency longer than 3"),
        (mtn_body(payer={"partyIdType": "MSISDN", "partyId": "2" * 40}), "msisdn longer than"),
        (mtn_body(financialTransactionId="9" * 101), "provider_txn_id longer than 100"),
        (mtn_body(status={"a": 1}), "unknown status"),
        (mtn_body(status=["SUCCESSFUL"]), "unknown status"),
        (mtn_body(externalId="ref\u0085"), "control character"),
    ],
)
def test_mtn_hostile_callbacks_get_400(
    app: Flask, session_factory: sessionmaker[Session], raw: bytes, reason: str
) -> None:
    answer = app.test_client().put(
        "/payments/mtnmomo/callback", data=raw, headers={"Content-Type": "application/json"}
    )
    refused(answer, 400, reason)
    assert outcomes(session_factory) == ["rejected"]
    assert events(session_factory) == 0


def test_mtn_non_ascii_party_id_is_no_msisdn(app: Flask) -> None:
    raw = mtn_body(payer={"partyIdType": "MSISDN", "partyId": "٣٣٣٣٣٣"})
    answer = app.test_client().put(
        "/payments/mtnmomo/callback", data=raw, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200


# -- CinetPay (form, x-token) ----------------------------------------------------------------


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"cpm_trans_id": "ref\x00"}, "NUL"),
        ({"cpm_trans_id": "r" * 65}, "cpm_trans_id longer than 64"),
        ({"cpm_currency": "XOFXOF"}, "cpm_currency longer than 3"),
        ({"cpm_custom": "c" * 1001}, "cpm_custom longer than 1000"),
        ({"cpm_designation": "a\x1bb"}, "control character"),
    ],
)
def test_cinetpay_hostile_notifications_get_400(
    app: Flask,
    session_factory: sessionmaker[Session],
    fields: dict[str, str],
    reason: str,
    signed: bool,
) -> None:
    form = cinetpay_form(**fields)
    headers = {"x-token": notify_token(form, CINETPAY_SECRET)} if signed else {}
    answer = app.test_client().post("/payments/cinetpay/callback", data=form, headers=headers)
    refused(answer, 400, reason)
    assert outcomes(session_factory) == ["rejected"]
    assert events(session_factory) == 0


def test_cinetpay_non_ascii_token_is_forged(app: Flask) -> None:
    answer = app.test_client().post(
        "/payments/cinetpay/callback", data=cinetpay_form(), headers={"x-token": "é" * 64}
    )
    refused(answer, 401, "x-token")


def test_valid_callbacks_keep_their_answers(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    """interfaces.md HTTP: valid input answers as before (200 queued)."""
    client = app.test_client()
    raw = sandbox_body()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SANDBOX_SECRET, raw)}
    assert client.post("/payments/sandbox/callback", data=raw, headers=headers).status_code == 200
    form = cinetpay_form(cpm_trans_id="ref-2")
    token = {"x-token": notify_token(form, CINETPAY_SECRET)}
    assert client.post("/payments/cinetpay/callback", data=form, headers=token).status_code == 200
    mtn = client.put("/payments/mtnmomo/callback", data=mtn_body(externalId="ref-3"))
    assert mtn.status_code == 200
    assert events(session_factory) == 3


# -- the event check itself, and a data error of the database ------------------------------


def test_check_event_cuts_a_long_or_dirty_reason() -> None:
    event = CallbackEvent("k", "ref", None, ProviderState.FAILED, None, None, None, False, True)
    noisy = check_event(CallbackEvent(**{**event.__dict__, "reason": "x\x07" + "y" * 300}))
    assert noisy.reason == "x " + "y" * 198
    with pytest.raises(CallbackRejected, match="identifiers"):
        check_event(CallbackEvent(**{**event.__dict__, "event_key": "k\x00"}))
    assert check_event(event) is event


def test_a_data_error_is_400_not_unavailable(
    app: Flask, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Were a value to slip past the checks, the database's refusal is the data's fault: a
    400 (a redelivery would fail the same way), the delivery kept, never a 503."""
    from gateway.services import payments

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise DataError("INSERT", {}, Exception("value too long for type character varying(3)"))

    monkeypatch.setattr(payments, "record_event", refuse)
    raw = sandbox_body()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(SANDBOX_SECRET, raw)}
    answer = app.test_client().post("/payments/sandbox/callback", data=raw, headers=headers)
    refused(answer, 400, "cannot be stored")
    assert outcomes(session_factory) == ["error"]
