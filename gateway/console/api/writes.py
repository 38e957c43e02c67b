"""Helpers of the API's writes (console.md "JSON API", issue 17): who acts (the token, named in
the `operator_actions` row and as the services' `by`, so maker-checker tells two tokens, or a
token and a person, apart) and the JSON body."""

from __future__ import annotations

from typing import Any, cast

from flask import abort, g, request

from gateway.services.operators import Actor

BY_LENGTH = 60  # the services' `by` columns


def api_actor() -> Actor:
    """A token has no user row: the action's row names the token in `after` (`by_token`)."""
    return Actor(None, request.remote_addr)


def token_name() -> str:
    return cast(str, g.api_token)


def api_by() -> str:
    """The token as the services' `by` (`token:NAME`, at most 60 characters)."""
    by = f"token:{token_name()}"
    return by if len(by) <= BY_LENGTH else f"token-id:{g.api_token_id}"


def json_body() -> dict[str, Any]:
    """The request's JSON object (400 when the body is not one)."""
    found = request.get_json(silent=True)
    if not isinstance(found, dict):
        abort(400, "the body is a JSON object (Content-Type: application/json)")
    return found


def text_field(body: dict[str, Any], name: str, *, limit: int, required: bool = True) -> str:
    """A string field of the body, stripped (400: missing when required, not a string, too
    long or holding a NUL byte)."""
    value = body.get(name, "")
    if not isinstance(value, str):
        abort(400, f"{name} is a string")
    value = value.strip()
    if required and not value:
        abort(400, f"{name} is required")
    if len(value) > limit:
        abort(400, f"{name} is at most {limit} characters")
    if "\x00" in value:
        abort(400, f"{name} contains a NUL byte")
    return value
