"""One reader for every Africa's Talking form (ussd.md, messaging.md): hops, session ends,
delivery reports, incoming SMS and opt-outs read their fields the same way, so that a field
is trimmed, bounded and refused in the same words wherever it arrives.

Flask-free: the handler passes the form as a mapping."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from gateway.lib.phones import InvalidPhone, normalize_msisdn

# An aggregator's phone numbers are international; no country is assumed at the edge.
NO_REGION = "ZZ"
NUL = "\x00"
# Control characters other than tab and line breaks (which an SMS may hold): no provider
# sends one, and a terminal or log reading them back could be tricked (issue 15).
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class MalformedForm(ValueError):
    """A form the gateway cannot use; the message, naming the field, is the 400's reason."""


class AtForm:
    """Field access over a posted form. A value holding a NUL byte (or another control
    character but tab and line breaks) is refused wherever it is read: no provider sends one,
    and PostgreSQL cannot store NUL (the provider would get a 5xx and send it again for
    hours)."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self._fields = fields

    def raw(self, name: str, limit: int | None = None) -> str:
        """Free text as sent, spaces kept ("" when absent): an SMS, a session's inputs."""
        return _bounded(name, self._get(name) or "", limit)

    def present(self, name: str, limit: int) -> str:
        """A field that is always sent but may be empty (a first hop's `text`), trimmed."""
        value = self._get(name)
        if value is None:
            raise MalformedForm(f"{name} is required")
        return _bounded(name, value.strip(), limit)

    def optional(self, name: str, limit: int | None = None) -> str | None:
        """Trimmed; None when absent or blank. Without a limit the storage cuts the value."""
        return _bounded(name, (self._get(name) or "").strip(), limit) or None

    def required(self, name: str, limit: int) -> str:
        """Trimmed and not blank."""
        value = self.optional(name, limit)
        if value is None:
            raise MalformedForm(f"{name} is required")
        return value

    def choice(self, name: str, allowed: Collection[str]) -> str:
        """One of the values the provider documents (a status)."""
        value = self.optional(name) or ""
        if value not in allowed:
            raise MalformedForm(f"{name} must be one of {', '.join(allowed)}")
        return value

    def count(self, name: str, maximum: int) -> int | None:
        """A whole number in ASCII digits (no sign, no `٣`), None when absent or blank."""
        value = self.optional(name)
        if value is None:
            return None
        if not value.isascii() or not value.isdigit() or int(value) > maximum:
            raise MalformedForm(f"{name} must be a whole number between 0 and {maximum}")
        return int(value)

    def phone(self, name: str) -> str:
        """A required international number, in E.164."""
        value = self.optional(name)
        if value is None:
            raise MalformedForm(f"{name} is required")
        return international(name, value)

    def _get(self, name: str) -> str | None:
        value = self._fields.get(name)
        if value is not None and NUL in value:
            raise MalformedForm(f"{name} contains a NUL byte")
        if value is not None and _CONTROL.search(value):
            raise MalformedForm(f"{name} contains a control character")
        return value


def international(name: str, raw: str) -> str:
    """E.164 from `+22670123412`, or from ` 22670123412` (a `+` decoded as a space)."""
    text = raw.strip()
    if not text:
        raise MalformedForm(f"{name} is required")
    try:
        return normalize_msisdn(text if text.startswith("+") else " " + text, NO_REGION)
    except InvalidPhone as exc:
        raise MalformedForm(f"{name} is not an international phone number: {exc}") from None


def _bounded(name: str, value: str, limit: int | None) -> str:
    if limit is not None and len(value) > limit:
        raise MalformedForm(f"{name} longer than {limit} characters")
    return value
