"""The baseline of the USSD benchmark: the smallest USSD answer a WSGI app can give, served by
the same gunicorn settings as the gateway, so the ratio isolates the gateway's own cost.

    gunicorn 'bench.hello_wsgi:app'"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b"CON hello"
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the form (as the gateway must) and answer `CON hello`."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]
