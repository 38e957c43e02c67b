"""Sign-in (console.md, D27): login + password, then the TOTP code when the user has one; in
production admin and finance without one enrol first. Sign-out; the operator's language."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user

from gateway.console import Operator
from gateway.console.forms import CodeForm, LanguageForm, LoginForm
from gateway.console.i18n import text
from gateway.console.views import console_view, operator, totp_missing
from gateway.handlers import request_session, runtime
from gateway.models import User
from gateway.services.operators import (
    Attempt,
    check_code,
    check_password,
    matching_step,
    new_secret,
    provisioning_uri,
    signed_in,
)

PENDING = "console_pending_user"  # passed the password, waiting for the code
ENROL = "console_enrol_secret"  # the secret being enrolled (shown once)
PENDING_FOR = dt.timedelta(minutes=5)


@console_view("/login", methods=("GET", "POST"), public=True)
def login() -> ResponseReturnValue:
    form = LoginForm()
    lang = _browser_language()
    if not form.validate_on_submit():
        return render_template("console/login.html", form=form)
    db = request_session()
    now = runtime().clock.now()
    attempt = check_password(db, form.login.data or "", form.password.data or "", now)
    db.commit()
    if attempt.outcome != "ok" or attempt.user is None:
        flash(_refusal_text(lang, attempt), "error")
        return render_template("console/login.html", form=form), 401
    return _second_step(attempt.user, now)


def _second_step(user: User, now: dt.datetime) -> ResponseReturnValue:
    session.clear()  # no fixation: a new session from here
    session[PENDING] = [user.id, now.timestamp()]
    if user.totp_secret:
        return redirect(url_for("console.login_code"))
    if totp_missing(user):
        return redirect(url_for("console.login_enrol"))
    return _finish(user, now)


def _finish(user: User, now: dt.datetime) -> ResponseReturnValue:
    db = request_session()
    signed_in(db, user, now)
    db.commit()
    session.clear()
    session.permanent = True
    login_user(Operator(user))
    target = request.args.get("next", "")
    if not target.startswith("/console/") or target.startswith("//"):
        target = url_for("console.home")
    return redirect(target)


def _pending_user(now: dt.datetime) -> User | None:
    """The user who passed the password step less than 5 minutes ago."""
    raw = session.get(PENDING)
    if not isinstance(raw, list) or len(raw) != 2:
        return None
    user_id, at = raw
    if now.timestamp() - float(at) > PENDING_FOR.total_seconds():
        return None
    return request_session().get(User, int(user_id))


@console_view("/login/code", methods=("GET", "POST"), public=True)
def login_code() -> ResponseReturnValue:
    now = runtime().clock.now()
    user = _pending_user(now)
    if user is None or not user.totp_secret:
        return redirect(url_for("console.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("console/code.html", form=form)
    db = request_session()
    attempt = check_code(db, user, form.code.data or "", now)
    db.commit()
    if attempt.outcome != "ok":
        flash(_refusal_text(user.language, attempt, code=True), "error")
        if attempt.outcome != "wrong":
            session.clear()
            return redirect(url_for("console.login"))
        return render_template("console/code.html", form=form), 401
    return _finish(user, now)


@console_view("/login/enrol", methods=("GET", "POST"), public=True)
def login_enrol() -> ResponseReturnValue:
    """Production: an admin or finance user without TOTP adds it before anything else."""
    now = runtime().clock.now()
    user = _pending_user(now)
    if user is None or user.totp_secret or not totp_missing(user):
        return redirect(url_for("console.login"))
    form = CodeForm()
    secret = session.get(ENROL)
    if not form.validate_on_submit() or not secret:
        secret = new_secret()  # each display a new secret: none is ever shown twice
        session[ENROL] = secret
        uri = provisioning_uri(secret, user.login)
        return render_template("console/enrol.html", form=form, secret=secret, uri=uri)
    step = matching_step(secret, form.code.data or "", now)
    if step is None:
        session.pop(ENROL, None)
        flash(text(user.language, "totp_wrong"), "error")
        return redirect(url_for("console.login_enrol"))
    user.totp_secret, user.totp_enrolled_at, user.totp_last_step = secret, now, step
    return _finish(user, now)


@console_view("/logout", methods=("POST",), public=True)
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    return redirect(url_for("console.login"))


@console_view("/language", methods=("POST",), own_row=True)
def language() -> ResponseReturnValue:
    """Any signed-in operator picks French or English: a preference of their own row."""
    form = LanguageForm()
    if form.validate_on_submit():
        operator().language = form.language.data or "fr"
        request_session().commit()
    return redirect(request.referrer or url_for("console.home"))


def _refusal_text(lang: str, attempt: Attempt, *, code: bool = False) -> str:
    if attempt.outcome == "locked" and attempt.locked_until is not None:
        return text(lang, "login_locked", until=attempt.locked_until.strftime("%H:%M"))
    if attempt.outcome == "inactive":
        return text(lang, "login_inactive")
    return text(lang, "totp_wrong" if code else "login_wrong")


def _browser_language() -> str:
    return request.accept_languages.best_match(["fr", "en"]) or "fr"
