"""The console's pages, one module each; importing a module declares its views on the
blueprint (gateway.console.views.console_view). A new page adds its module to PAGES."""

from __future__ import annotations

import importlib
from functools import cache

PAGES = (
    "auth",
    "home",
    "users",
    "audit",
    "reconciliation",
    "agents",
    "campaigns",
    "sms",
    "payments",
    "jobs",
    "alerts",
    "members",
    "household",
    "sessions",
    "tokens",
    "exports",
    "reports",
    "lists",
    "enrolments",
    "indicators",
)


@cache
def load() -> None:
    """Import every page module once (the blueprint is shared by every app)."""
    for name in PAGES:
        importlib.import_module(f"gateway.console.pages.{name}")
