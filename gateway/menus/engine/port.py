"""The USSD engine's port (ussd.md): each aggregator names its fields its own way, so the
engine only sees a `UssdRequest` and gives back a `UssdReply`; an adapter in
gateway.providers does the mapping both ways and depends on these types, never the reverse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


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
    (`logged_input` already has PIN-screen inputs replaced, so no PIN ever leaves the engine);
    `mutual_id`, the mutual the caller was identified for, too (None: no mutual serves it)."""

    text: str
    end: bool
    screen: str
    logged_input: str = ""
    mutual_id: int | None = None


class UssdProvider(Protocol):
    """An aggregator's USSD callback: parse the form (MalformedUssdRequest when it cannot be
    a hop), format the answer as (body, content type)."""

    name: str

    def parse(self, form: Mapping[str, str]) -> UssdRequest: ...

    def format(self, reply: UssdReply) -> tuple[str, str]: ...
