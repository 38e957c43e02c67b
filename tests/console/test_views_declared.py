"""Every /console and /api view is declared through `console_view` (sign-in, role, scope in
one place, issue 16); a route registered any other way is caught."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from gateway.console.views import DECLARED, DeclarationError, api_view, console_view
from gateway.models import Role
from tests.conftest import AppFactory

GUARDED_PREFIXES = ("/console", "/api")


def undeclared_routes(app: Flask) -> list[str]:
    """The /console and /api rules whose view did not come through console_view."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(GUARDED_PREFIXES)
        and not getattr(app.view_functions[rule.endpoint], DECLARED, False)
    )


def test_every_console_and_api_route_is_declared(make_app: AppFactory) -> None:
    app = make_app()
    guarded = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/console")]
    assert "/console/" in guarded and "/console/users" in guarded  # the walk sees the routes
    api = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1")]
    assert "/api/v1/payments" in api and "/api/v1/openapi.json" in api
    assert undeclared_routes(app) == []


@pytest.mark.parametrize("rule", ["/console/planted", "/api/v1/planted"])
def test_a_planted_route_is_caught(make_app: AppFactory, rule: str) -> None:
    app = make_app()
    planted = Blueprint("planted", __name__)
    planted.add_url_rule(rule, "planted", lambda: "every household of every mutual")
    app.register_blueprint(planted)
    assert undeclared_routes(app) == [rule]


def test_a_viewer_cannot_be_admitted_to_a_write() -> None:
    with pytest.raises(DeclarationError, match="viewer"):
        console_view("/never", methods=("POST",), roles=(Role.VIEWER, Role.MANAGER))
    with pytest.raises(DeclarationError, match="viewer"):
        api_view("/never", methods=("POST",), roles=(Role.VIEWER,))
