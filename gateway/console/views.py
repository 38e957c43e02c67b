"""Every console view is declared through `console_view`, every JSON API view through
`api_view`: each registers the route on its blueprint and enforces, in this order, who is
asking (sign-in and the production TOTP rule; for the API, a bearer token and its rate limit,
issue 17), the role, and the scope (`g.scope`, read by `scoped` and `get_or_404`). A view
registered any other way under /console or /api is caught by
tests/console/test_views_declared.py.

Roles (D27): a view says who may open it; a view that writes (POST) may not admit `viewer`,
which the declaration itself refuses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar, TypeVarTuple, cast

from flask import Blueprint, Response, abort, g, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from redis import RedisError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import HTTPException, TooManyRequests, Unauthorized

from gateway.console import ratelimit
from gateway.console.scope import Scope, stored_scope, user_scope
from gateway.console.scope import scoped as scope_query
from gateway.handlers import request_session, runtime
from gateway.models import ApiToken, Role, User
from gateway.services.operators import TOTP_ROLES, Actor, authenticate

log = logging.getLogger(__name__)

bp = Blueprint("console", __name__, url_prefix="/console")
api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
DECLARED = "console_declared"  # attribute set on every view declared here
ALL_ROLES: tuple[Role, ...] = tuple(Role)
WRITERS: tuple[Role, ...] = (Role.ADMIN, Role.MANAGER, Role.FINANCE)
View = Callable[..., ResponseReturnValue]
Ts = TypeVarTuple("Ts")
M = TypeVar("M")


class DeclarationError(TypeError):
    """A view declared in a way the rules forbid (a viewer admitted to a write)."""


def console_view(
    rule: str,
    *,
    roles: Collection[Role] = ALL_ROLES,
    methods: Collection[str] = ("GET",),
    public: bool = False,
    own_row: bool = False,
) -> Callable[[View], View]:
    """Declare a console view at `rule` (under /console). `public`: no sign-in (the login
    pages only). Writes (any method but GET) exclude viewers, unless `own_row`: the view
    writes nothing but the operator's own preferences (their language)."""
    _refuse_viewer_writes(rule, roles, methods, exempt=public or own_row)

    def declare(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if not public:
                refused = _refusal(roles)
                if refused is not None:
                    return refused
            return view(*args, **kwargs)

        setattr(guarded, DECLARED, True)
        bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        return guarded

    return declare


def _refuse_viewer_writes(
    rule: str, roles: Collection[Role], methods: Collection[str], *, exempt: bool
) -> None:
    if set(methods) - {"GET"} and Role.VIEWER in roles and not exempt:
        raise DeclarationError(f"{rule}: a view that writes cannot admit the viewer role")


def api_view(
    rule: str,
    *,
    roles: Collection[Role] = ALL_ROLES,
    methods: Collection[str] = ("GET",),
    public: bool = False,
) -> Callable[[View], View]:
    """Declare a JSON API view at `rule` (under /api/v1), for bearer tokens of `roles`.
    `public`: no token (the OpenAPI document only). No CSRF: a bearer token is not sent by a
    browser on its own, unlike a cookie."""
    _refuse_viewer_writes(rule, roles, methods, exempt=public)

    def declare(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            if not public:
                _api_refusal(roles)
            return view(*args, **kwargs)

        setattr(guarded, DECLARED, True)
        api_bp.add_url_rule(rule, view.__name__, guarded, methods=list(methods))
        return guarded

    return declare


def _api_refusal(roles: Collection[Role]) -> None:
    """The bearer token (401 if missing, unknown or revoked), its rate limit (429; 503 with
    Redis down: no unlimited client), its role (403); then the request's scope is the
    token's (outside it: 404, as for the console)."""
    session = request_session()
    now = runtime().clock.now()
    token = authenticate(session, _bearer(), now=now)
    if token is None:
        raise Unauthorized(
            "a valid bearer token is required", www_authenticate=WWWAuthenticate("bearer")
        )
    g.api_token, g.api_token_id = token.name, token.id
    session.commit()  # last_used_at; also ends SQLite's read lock before the view's reads
    try:
        verdict = ratelimit.hit(runtime().redis, token.id, now, ratelimit.LIMIT)
    except RedisError:
        log.warning("api rate limit unavailable (Redis) token=%s", token.name)
        abort(503, "rate limiter unavailable, try again")
    if not verdict.allowed:
        raise TooManyRequests(
            f"more than {ratelimit.LIMIT} requests a minute", retry_after=verdict.retry_after
        )
    if token.role not in roles:
        abort(403, "this token's role cannot read this resource")
    g.scope = _token_scope(session, token)


def _bearer() -> str:
    kind, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if kind.lower() == "bearer" else ""


def _token_scope(session: Session, token: ApiToken) -> Scope:
    return stored_scope(
        session,
        token.scope_kind,
        token.scope_union_id,
        token.scope_mutual_id,
        token.scope_section_id,
    )


@api_bp.errorhandler(HTTPException)
def _api_error(exc: HTTPException) -> Response:
    """Every API error is JSON, with the exception's own headers (Retry-After,
    WWW-Authenticate) kept."""
    code = exc.code or 500
    response = jsonify({"error": exc.name, "reason": exc.description or exc.name})
    response.status_code = code
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@api_bp.after_request
def _log_api_request(response: Response) -> Response:
    """One line per API request: the token, the route, the status (no table per request)."""
    rule = request.url_rule.rule if request.url_rule else request.path
    log.info(
        "api request token=%s method=%s route=%s status=%s",
        g.get("api_token", "-"),
        request.method,
        rule,
        response.status_code,
    )
    return response


def _refusal(roles: Collection[Role]) -> ResponseReturnValue | None:
    """Sign-in, TOTP in production, role; then the request's scope is set."""
    if not current_user.is_authenticated:
        return redirect(url_for("console.login", next=request.full_path))
    user = operator()
    if totp_missing(user):
        logout_user()
        return redirect(url_for("console.login"))
    if user.role not in roles:
        abort(403, "your role cannot open this page")
    g.scope = user_scope(request_session(), user)
    return None


def totp_missing(user: User) -> bool:
    """Production refuses admin and finance without an enrolled second factor."""
    return (
        runtime().settings.production and user.role in TOTP_ROLES and user.totp_enrolled_at is None
    )


def operator() -> User:
    """The signed-in user's row (in the request's session)."""
    return cast(User, current_user.row)


def current_scope() -> Scope:
    scope = g.get("scope")
    if scope is None:  # only a view not declared through console_view gets here
        abort(500, "no scope for this request")
    return cast(Scope, scope)


def scoped(query: Select[*Ts], model: type[Any]) -> Select[*Ts]:
    """`query` restricted to the signed-in operator's scope for `model`."""
    return scope_query(query, model, current_scope())


def get_or_404(model: type[M], object_id: int) -> M:
    """The object with that id if it is inside the operator's scope; 404 otherwise (the same
    answer as for an id that does not exist, so nothing leaks)."""
    session: Session = request_session()
    query = scoped(select(model).where(model.id == object_id), model)  # type: ignore[attr-defined]
    found: M | None = session.scalars(query).one_or_none()
    if found is None:
        abort(404)
    return found


def actor() -> Actor:
    """Who is acting, for `record_action`: the operator and their address."""
    return Actor(operator().id, request.remote_addr)
