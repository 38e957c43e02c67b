"""`/console/users` (admin): list the operators inside the admin's scope, add one (inside it),
deactivate, reactivate, unlock, reset a password. Each write goes through
gateway.services.operators, in one transaction with its one `operator_actions` row."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.console.forms import PasswordForm, ReasonForm, TokenForm, UserForm
from gateway.console.i18n import text
from gateway.console.scope import Scope, user_scope
from gateway.console.views import (
    actor,
    console_view,
    current_scope,
    get_or_404,
    operator,
    scoped,
)
from gateway.handlers import request_session, runtime
from gateway.models import ApiToken, Mutual, Role, ScopeKind, Section, Union, User
from gateway.services.operators import (
    OperatorError,
    PasswordError,
    ScopeRef,
    add_user,
    parse_scope,
    reset_password,
    set_active,
    unlock,
)

ADMIN = (Role.ADMIN,)
LIST_LIMIT = 500  # operators of a scope: a few dozen; the list is bounded all the same


def tokens_in_scope() -> list[ApiToken]:
    """The API tokens whose scope lies inside the admin's, by name (gateway.console.pages.tokens
    creates and revokes them)."""
    query = scoped(select(ApiToken), ApiToken).order_by(ApiToken.name).limit(LIST_LIMIT)
    return list(request_session().scalars(query))


@console_view("/users", roles=ADMIN)
def users() -> ResponseReturnValue:
    db = request_session()
    query = scoped(select(User), User).order_by(User.login).limit(LIST_LIMIT)
    rows = list(db.scalars(query))
    return render_template(
        "console/users.html",
        users=rows,
        scopes=scope_texts(rows),
        form=UserForm(),
        action_form=ReasonForm(),
        password_form=PasswordForm(),
        now=runtime().clock.now(),
        tokens=tokens_in_scope(),
        token_form=TokenForm(),
    )


@console_view("/users/new", roles=ADMIN, methods=("POST",))
def user_new() -> ResponseReturnValue:
    form = UserForm()
    lang = _lang()
    if not form.validate_on_submit():
        flash("; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return redirect(url_for("console.users"))
    db = request_session()
    try:
        scope = parse_scope(db, form.scope.data or "")
        inside_scope(scope)
        add_user(
            db,
            actor(),
            login=form.login.data or "",
            password=form.password.data or "",
            role=Role(form.role.data),
            scope=scope,
            now=runtime().clock.now(),
            name=form.name.data or "",
            language=form.language.data or "fr",
            with_totp=False,  # enrolled by the user at first sign-in (production)
        )
    except (OperatorError, PasswordError) as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.users"))
    db.commit()
    flash(text(lang, "users_created", login=form.login.data), "ok")
    return redirect(url_for("console.users"))


def scope_texts(users: list[User]) -> dict[int, str]:
    """`mutual:MA`, `section:MA/Nord`, `union:UN` or `all` per user, as `--scope` reads it
    (mutuals and unions: a few hundred codes at most, read once)."""
    db = request_session()
    mutuals = {row_id: code for row_id, code in db.execute(select(Mutual.id, Mutual.code))}
    unions = {row_id: code for row_id, code in db.execute(select(Union.id, Union.code))}
    wanted = {u.scope_section_id for u in users if u.scope_section_id is not None}
    sections = {
        section.id: f"{mutuals.get(section.mutual_id, '?')}/{section.name}"
        for section in db.scalars(select(Section).where(Section.id.in_(wanted)))
    }
    texts = {}
    for user in users:
        refs = {
            ScopeKind.UNION: unions.get(user.scope_union_id or 0),
            ScopeKind.MUTUAL: mutuals.get(user.scope_mutual_id or 0),
            ScopeKind.SECTION: sections.get(user.scope_section_id or 0),
        }
        ref = refs.get(user.scope_kind)
        texts[user.id] = f"{user.scope_kind}:{ref}" if ref else str(user.scope_kind)
    return texts


def inside_scope(scope: ScopeRef) -> None:
    """An admin creates users (and API tokens) inside their own scope only (a mutual's
    admin: that mutual or its sections), never wider."""
    mine = current_scope()
    if mine.everything:
        return
    probe = User(
        scope_kind=scope.kind,
        scope_union_id=scope.union_id,
        scope_mutual_id=scope.mutual_id,
        scope_section_id=scope.section_id,
    )
    if not _covers(mine, user_scope(request_session(), probe)):
        raise OperatorError("that scope is outside yours")


def _covers(mine: Scope, theirs: Scope) -> bool:
    if theirs.kind == ScopeKind.ALL:
        return False
    if mine.kind == ScopeKind.SECTION:
        return theirs.kind == ScopeKind.SECTION and theirs.section_id == mine.section_id
    if theirs.kind == ScopeKind.UNION:
        return mine.kind == ScopeKind.UNION and theirs.union_id == mine.union_id
    return theirs.mutual_ids <= mine.mutual_ids


@console_view("/users/<int:user_id>/deactivate", roles=ADMIN, methods=("POST",))
def user_deactivate(user_id: int) -> ResponseReturnValue:
    return _set_active(user_id, active=False)


@console_view("/users/<int:user_id>/activate", roles=ADMIN, methods=("POST",))
def user_activate(user_id: int) -> ResponseReturnValue:
    return _set_active(user_id, active=True)


def _set_active(user_id: int, *, active: bool) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        abort(400, "invalid form")
    if user.id == actor().user_id and not active:
        abort(400, "you cannot deactivate yourself")
    db = request_session()
    set_active(db, actor(), user, active, now=runtime().clock.now(), reason=form.reason.data or "")
    db.commit()
    return _done()


@console_view("/users/<int:user_id>/unlock", roles=ADMIN, methods=("POST",))
def user_unlock(user_id: int) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    if not ReasonForm().validate_on_submit():
        abort(400, "invalid form")
    db = request_session()
    unlock(db, actor(), user, now=runtime().clock.now())
    db.commit()
    return _done()


@console_view("/users/<int:user_id>/password", roles=ADMIN, methods=("POST",))
def user_password(user_id: int) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        flash("; ".join(", ".join(v) for v in form.errors.values()), "error")
        return redirect(url_for("console.users"))
    db = request_session()
    reset_password(db, actor(), user, form.password.data or "", now=runtime().clock.now())
    db.commit()
    return _done()


def _done() -> ResponseReturnValue:
    flash(text(_lang(), "users_done"), "ok")
    return redirect(url_for("console.users"))


def _lang() -> str:
    return operator().language
