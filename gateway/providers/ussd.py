"""USSD providers (ussd.md): each aggregator names its fields its own way, so the engine only
sees a `UssdRequest` and gives back a `UssdReply`; an adapter does the mapping both ways.

No Flask here (the handler passes the form as a mapping), so adapters stay testable alone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from gateway.lib.phones import InvalidPhone, normalize_msisdn

MAX_SESSION_ID = 128
MAX_SERVICE_CODE = 32
MAX_NETWORK = 16
MAX_TEXT = 500  # a real session's accumulated input stays far below this
# An aggregator's phoneNumber is international; no country is assumed at the edge.
NO_REGION = "ZZ"
_SESSION_ID = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
# Keypads send digits, * and #; smartphones' USSD reply boxes also let people type letters,
# which the menus answer with a re-prompt. Control characters are never input.
_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")


class MalformedUssdRequest(ValueError):
    """The request cannot be a hop: the message is the 400's reason."""


@dataclass(frozen=True)
class UssdRequest:
    """One hop as the engine sees it; `phone` is E.164, `text` every input joined by `*`."""

    session_id: str
    service_code: str
    phone: str
    network_code: str | None
    text: str
    provider: str = "africastalking"


@dataclass(frozen=True)
class UssdReply:
    """What to show; `end` closes the session. `screen` and `logged_input` feed the audit
    (`logged_input` already has PIN-screen inputs replaced, so no PIN ever leaves the engine)."""

    text: str
    end: bool
    screen: str
    logged_input: str = ""


class UssdProvider(Protocol):
    """An aggregator's USSD callback: parse the form, format the answer."""

    name: str

    def parse(self, form: Mapping[str, str]) -> UssdRequest: ...

    def format(self, reply: UssdReply) -> tuple[str, str]: ...


class AfricasTalkingUssd:
    """Africa's Talking: `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`;
    answers `CON ...` / `END ...` in text/plain."""

    name = "africastalking"

    def parse(self, form: Mapping[str, str]) -> UssdRequest:
        for required in ("sessionId", "phoneNumber", "text"):
            if required not in form:
                raise MalformedUssdRequest(f"missing field {required}")
        session_id = form["sessionId"].strip()
        if not session_id or len(session_id) > MAX_SESSION_ID:
            raise MalformedUssdRequest(f"sessionId must be 1 to {MAX_SESSION_ID} characters")
        if not _SESSION_ID.fullmatch(session_id):
            raise MalformedUssdRequest("sessionId has unexpected characters")
        text = form["text"].strip()
        if len(text) > MAX_TEXT or not _TEXT.fullmatch(text):
            raise MalformedUssdRequest(
                f"text must be printable input of at most {MAX_TEXT} characters"
            )
        return UssdRequest(
            session_id=session_id,
            service_code=_field(form, "serviceCode", MAX_SERVICE_CODE),
            phone=parse_phone(form["phoneNumber"]),
            network_code=_field(form, "networkCode", MAX_NETWORK) or None,
            text=text,
            provider=self.name,
        )

    def format(self, reply: UssdReply) -> tuple[str, str]:
        """`CON`/`END` chosen by the screen's kind, never by the text."""
        return ("END " if reply.end else "CON ") + reply.text, "text/plain; charset=utf-8"


def parse_phone(raw: str) -> str:
    """E.164 from `+22670123412`, or from ` 22670123412` (a `+` decoded as a space)."""
    text = raw.strip()
    if not text:
        raise MalformedUssdRequest("phoneNumber is empty")
    candidate = text if text.startswith("+") else " " + text
    try:
        return normalize_msisdn(candidate, NO_REGION)
    except InvalidPhone as exc:
        raise MalformedUssdRequest(f"phoneNumber is not an international number: {exc}") from exc


def _field(form: Mapping[str, str], name: str, limit: int) -> str:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise MalformedUssdRequest(f"{name} longer than {limit} characters")
    return value
