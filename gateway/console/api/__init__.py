"""The JSON API under /api/v1 (console.md "JSON API", issue 17): read resources declared through
`gateway.console.views.api_view` (bearer token, rate limit, role, scope), and the OpenAPI
document that describes them (checked against the routes by tests/console/test_api_openapi.py)."""

from __future__ import annotations

import importlib
from functools import cache

MODULES = (
    "households",
    "lists",
    "openapi",
    "timeline",
    "ussd",
    "campaigns",
    "exceptions",
    "exports",
    "events",
    "enrolments",
    "indicators",
)


@cache
def load() -> None:
    """Import every API module once (the blueprint is shared by every app)."""
    for name in MODULES:
        importlib.import_module(f"gateway.console.api.{name}")
