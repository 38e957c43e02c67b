"""Africa's Talking SMS callbacks (messaging.md) read into what the messaging capability takes:
a delivery report, an incoming SMS (`messaging.Inbound`), an opt-out. MalformedForm when a
form cannot be used."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.models.inbound import LINK_LEN, NETWORK_LEN, PROVIDER_ID_LEN, TO_LEN
from gateway.models.outbox import MESSAGE_ID_LEN
from gateway.providers.africastalking import PROVIDER
from gateway.providers.africastalking.form import AtForm
from gateway.services import messaging

MAX_TEXT = 2000  # a long concatenated SMS; more is not a member's message


@dataclass(frozen=True)
class DeliveryReport:
    """`status` is one of messaging.DELIVERY_STATUSES; `message_id` the id the send got."""

    message_id: str
    status: str
    failure_reason: str | None


@dataclass(frozen=True)
class OptOut:
    """A phone that asked the provider to stop messages from `sender_id` (every sender if None)."""

    phone: str
    sender_id: str | None


def parse_delivery_report(fields: Mapping[str, str]) -> DeliveryReport:
    """`id` and `status` are required; `failureReason` is kept when given."""
    form = AtForm(fields)
    return DeliveryReport(
        message_id=form.required("id", MESSAGE_ID_LEN),
        status=form.choice("status", messaging.DELIVERY_STATUSES),
        failure_reason=form.optional("failureReason"),
    )


def parse_inbound(fields: Mapping[str, str]) -> messaging.Inbound:
    """`id`, `from` and `to` are required; the text is kept as sent."""
    form = AtForm(fields)
    text = form.raw("text", MAX_TEXT)
    return messaging.Inbound(
        provider=PROVIDER,
        provider_id=form.required("id", PROVIDER_ID_LEN),
        from_phone=form.phone("from"),
        to=form.required("to", TO_LEN),
        text=text,
        link_id=form.optional("linkId", LINK_LEN),
        network=form.optional("networkCode", NETWORK_LEN),
    )


def parse_optout(fields: Mapping[str, str]) -> OptOut:
    """`phoneNumber` is required; `senderId` names the mutual when given."""
    form = AtForm(fields)
    return OptOut(form.phone("phoneNumber"), form.optional("senderId", TO_LEN))
