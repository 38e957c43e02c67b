"""The callback token (GATEWAY_USSD_TOKEN) and members' phone numbers out of every log and
table (issue 15, point 7).

Providers must keep sending `?token=...` (interfaces.md, HTTP), so the token travels in URLs;
what the gateway stores or logs of those URLs goes through here first: stored URLs and queries
lose the parameter (the sandbox adds it back when it sends), log lines show it as `***`.

Phone numbers reach log lines and failed jobs' tracebacks in text the gateway does not write:
PostgreSQL's own error DETAIL (`Key (phone)=(+22670123456) already exists`), a provider's
error body. Any E.164 number in such text is masked as everywhere else (`+22670****56`)."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gateway.lib.phones import mask_msisdn

TOKEN_PARAM = "token"
MASK = "***"
# `token=` as a query parameter, in a URL or a request line; the value runs to `&`, a space
# or a quote (the forms in which a URL appears in a log line).
_IN_TEXT = re.compile(r"(?i)([?&]token=)[^&\s\"']*")
# An E.164 number (`+` and 8 to 15 digits) not inside a longer run of digits or word.
_PHONE = re.compile(r"(?<![\w+])\+\d{8,15}(?!\d)")


def redact(text: str) -> str:
    """Any `?token=`/`&token=` value in free text replaced by `***`, and any E.164 phone
    number masked (`+22670****56`)."""
    if "oken=" in text or "OKEN=" in text:
        text = _IN_TEXT.sub(rf"\g<1>{MASK}", text)
    return _PHONE.sub(lambda m: mask_msisdn(m.group()), text) if "+" in text else text


def without_token(url: str) -> str:
    """The URL without its token parameter (the other parameters kept, in order)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != TOKEN_PARAM]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def with_token(url: str, token: str) -> str:
    """The URL with `token` as its token parameter (none when `token` is empty)."""
    bare = without_token(url)
    if not token:
        return bare
    separator = "&" if urlsplit(bare).query else "?"
    return f"{bare}{separator}{urlencode({TOKEN_PARAM: token})}"


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks any token and phone number: the message, its arguments
    and a traceback alike (werkzeug's request lines carry the full URL, PostgreSQL's errors
    the values of a violated key)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
