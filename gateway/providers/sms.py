"""SMS providers by name (messaging.md): the local `sandbox` sink and Africa's Talking
(africastalking/sms.py), both behind the messaging capability's `SmsProvider`."""

from __future__ import annotations

import uuid

from gateway.providers.africastalking.sms import AfricasTalkingSms
from gateway.services.messaging import SendResult, SmsProvider
from gateway.settings import Settings


class SandboxSms:
    """Development and test sink: every message is accepted; the outbox lists them."""

    name = "sandbox"

    def send(self, phone_e164s: list[str], text: str, sender_id: str | None) -> list[SendResult]:
        return [
            SendResult(phone, 100, f"sandbox-{uuid.uuid4().hex}", "accepted")
            for phone in phone_e164s
        ]


def sms_provider(settings: Settings) -> SmsProvider:
    """The provider GATEWAY_SMS_PROVIDER names (settings validate the choice)."""
    if settings.sms_provider == "africastalking":
        return AfricasTalkingSms(settings.at_username, settings.at_api_key)
    return SandboxSms()
