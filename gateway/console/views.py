"""Every console (and, later, API) view is declared through `console_view`: it registers the
route on the console blueprint and enforces, in this order, sign-in, the production TOTP rule,
the role, and the scope (`g.scope`, read by `scoped` and `get_or_404`). A view registered any
other way under /console or /api is caught by tests/console/test_views_declared.py.

Roles (D27): a view says who may open it; a view that writes (POST) may not admit `viewer`,
which the declaration itself refuses."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any, TypeVar, TypeVarTuple, cast

from flask import Blueprint, abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.console.scope import Scope, user_scope
from gateway.console.scope import scoped as scope_query
from gateway.handlers import request_session, runtime
from gateway.models import Role, User
from gateway.services.operators import TOTP_ROLES, Actor

bp = Blueprint("console", __name__, url_prefix="/console")
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
    if set(methods) - {"GET"} and Role.VIEWER in roles and not (public or own_row):
        raise DeclarationError(f"{rule}: a view that writes cannot admit the viewer role")

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
