"""The one reader of Africa's Talking forms: trimming, required fields, length limits, NUL
bytes and phone numbers, each refused with a reason that names the field; and the readers of
each endpoint built on it (hops, session ends, delivery reports, incoming SMS, opt-outs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from gateway.menus.engine.port import MalformedUssdRequest
from gateway.providers.africastalking.form import AtForm, MalformedForm
from gateway.providers.africastalking.sms_callbacks import (
    DeliveryReport,
    OptOut,
    parse_delivery_report,
    parse_inbound,
    parse_optout,
)
from gateway.providers.africastalking.ussd import AfricasTalkingUssd
from gateway.providers.africastalking.ussd_events import parse_session_end

PHONE = "+22670123412"


def refused(read: Callable[[], object], reason: str) -> None:
    with pytest.raises(MalformedForm) as caught:
        read()
    assert str(caught.value) == reason


def test_values_are_trimmed_and_blank_is_absent() -> None:
    form = AtForm({"id": "  ATX1 \t", "blank": "   ", "text": "  STOP  "})
    assert form.required("id", 8) == "ATX1"
    assert form.optional("blank") is None and form.optional("absent") is None
    assert form.raw("text") == "  STOP  " and form.raw("absent") == ""
    assert form.present("blank", 8) == ""


@pytest.mark.parametrize("fields", [{}, {"id": ""}, {"id": "  "}])
def test_a_required_field_absent_or_blank_is_named(fields: dict[str, str]) -> None:
    refused(lambda: AtForm(fields).required("id", 128), "id is required")


def test_a_present_field_may_be_empty_but_not_absent() -> None:
    assert AtForm({"text": ""}).present("text", 500) == ""
    refused(lambda: AtForm({}).present("text", 500), "text is required")


def test_the_limit_is_on_the_trimmed_value() -> None:
    assert AtForm({"to": " " + "2" * 32 + " "}).required("to", 32) == "2" * 32
    refused(lambda: AtForm({"to": "2" * 33}).required("to", 32), "to longer than 32 characters")
    refused(lambda: AtForm({"text": "a" * 11}).raw("text", 10), "text longer than 10 characters")


@pytest.mark.parametrize(
    "read",
    [
        lambda form: form.raw("f"),
        lambda form: form.present("f", 10),
        lambda form: form.optional("f"),
        lambda form: form.required("f", 10),
        lambda form: form.choice("f", ["a\x00b"]),
        lambda form: form.count("f", 10),
        lambda form: form.phone("f"),
    ],
)
def test_a_nul_byte_is_refused_by_every_accessor(read: Callable[[AtForm], object]) -> None:
    refused(lambda: read(AtForm({"f": "a\x00b"})), "f contains a NUL byte")


def test_choice_names_the_values_allowed() -> None:
    form = AtForm({"status": " Success ", "bad": "Delivered"})
    assert form.choice("status", ("Success", "Failed")) == "Success"
    refused(lambda: form.choice("bad", ("Success", "Failed")), "bad must be one of Success, Failed")
    refused(lambda: form.choice("absent", ("Success",)), "absent must be one of Success")


@pytest.mark.parametrize("raw", ["-1", "1.5", "٣", "11", "four"])
def test_count_is_ascii_digits_within_the_maximum(raw: str) -> None:
    form = AtForm({"n": raw, "ok": " 7 ", "blank": ""})
    assert form.count("ok", 10) == 7 and form.count("blank", 10) is None
    refused(lambda: form.count("n", 10), "n must be a whole number between 0 and 10")


def test_phone_is_e164_with_the_plus_lost_as_a_space() -> None:
    assert AtForm({"from": " 22670123412"}).phone("from") == PHONE
    assert AtForm({"from": PHONE}).phone("from") == PHONE
    refused(lambda: AtForm({}).phone("from"), "from is required")
    with pytest.raises(MalformedForm, match=r"^from is not an international phone number"):
        AtForm({"from": "70123412"}).phone("from")


# --- the endpoints' readers ---------------------------------------------------------------


def test_the_hop_reader_answers_in_the_engines_words() -> None:
    """A hop that cannot be one is the engine port's MalformedUssdRequest, reason kept."""
    hop = {"sessionId": "S1", "phoneNumber": PHONE, "text": "1", "networkCode": "61\x0002"}
    with pytest.raises(MalformedUssdRequest, match=r"^networkCode contains a NUL byte$"):
        AfricasTalkingUssd().parse(hop)
    with pytest.raises(MalformedUssdRequest, match=r"^sessionId has unexpected characters$"):
        AfricasTalkingUssd().parse(hop | {"sessionId": "S 1", "networkCode": ""})
    parsed = AfricasTalkingUssd().parse(hop | {"networkCode": "  ", "text": " 1*2 "})
    assert (parsed.network_code, parsed.service_code, parsed.text) == (None, "", "1*2")


def test_the_session_end_reader_keeps_what_it_cannot_read() -> None:
    end = parse_session_end(
        {"sessionId": "S1", "status": "Failed", "phoneNumber": "oops", "date": "yesterday"}
    )
    assert (end.phone, end.ended_at, end.inputs, end.error_message) == ("oops", None, "", None)
    dated = parse_session_end({"sessionId": "S1", "status": "Success", "date": "2026-03-01 09:15"})
    assert dated.ended_at == dt.datetime(2026, 3, 1, 9, 15, tzinfo=dt.UTC)
    refused(lambda: parse_session_end({"status": "Success"}), "sessionId is required")
    refused(
        lambda: parse_session_end({"sessionId": "S1", "status": "Success", "input": "1*\x00"}),
        "input contains a NUL byte",
    )


def test_the_sms_callback_readers() -> None:
    report = parse_delivery_report({"id": " ATX1 ", "status": "Failed", "failureReason": ""})
    assert report == DeliveryReport("ATX1", "Failed", None)
    sms = parse_inbound({"id": "ATX2", "from": " 22670123412", "to": "21212", "text": " Stop "})
    assert (sms.provider, sms.from_phone, sms.text, sms.link_id) == (
        "africastalking",
        PHONE,
        " Stop ",
        None,
    )
    assert parse_optout({"phoneNumber": PHONE}) == OptOut(PHONE, None)
    refused(lambda: parse_inbound({"id": "ATX2", "to": "21212"}), "from is required")
    refused(
        lambda: parse_inbound({"id": "ATX2", "from": PHONE, "to": "21212", "text": "é" * 2001}),
        "text longer than 2000 characters",
    )
