"""Signing operators in (D27, console.md): password, then the TOTP code when enrolled.

Five failures in a row (wrong password or wrong code) lock the user for 15 minutes. As for the
agents' PIN (gateway.services.agents, D19), the user's row is locked and re-read before the
check (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers), so
concurrent attempts are checked and counted one after another and a burst of guesses gets at
most LOCK_AFTER comparisons. The caller commits either way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import User
from gateway.services.operators.passwords import (
    burn_time,
    hash_password,
    needs_rehash,
    verify_password,
)
from gateway.services.operators.totp import matching_step

LOCK_AFTER = 5
LOCK_FOR = dt.timedelta(minutes=15)
Outcome = Literal["ok", "wrong", "locked", "inactive"]


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    user: User | None = None
    locked_until: dt.datetime | None = None


def find_user(session: Session, login: str) -> User | None:
    return session.scalars(select(User).where(User.login == login.strip().lower())).one_or_none()


def check_password(session: Session, login: str, password: str, now: dt.datetime) -> Attempt:
    """The first step. An unknown login costs the same hash as a known one and says the same
    thing ("wrong"), so logins cannot be probed."""
    user = find_user(session, login) or find_user(session, login.replace(" ", ""))
    if user is None:
        burn_time(password)
        return Attempt("wrong")
    refused = _refusal(session, user, now)
    if refused is not None:
        return refused
    if not verify_password(user.password_hash, password):
        return _fail(session, user, now)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return Attempt("ok", user)


def check_code(session: Session, user: User, code: str, now: dt.datetime) -> Attempt:
    """The second step for an enrolled user: a code not used before; counts as a failure
    like a wrong password."""
    refused = _refusal(session, user, now)
    if refused is not None:
        return refused
    step = matching_step(user.totp_secret or "", code, now) if user.totp_secret else None
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return _fail(session, user, now)
    user.totp_last_step = step
    if user.totp_enrolled_at is None:
        user.totp_enrolled_at = now
    return Attempt("ok", user)


def signed_in(session: Session, user: User, now: dt.datetime) -> None:
    """Every step passed: the count is cleared and the time kept."""
    user.failed_attempts, user.locked_until = 0, None
    user.last_login_at = now
    session.flush()


def _refusal(session: Session, user: User, now: dt.datetime) -> Attempt | None:
    if now.tzinfo is None:
        raise ValueError("sign-in needs a timezone-aware time")
    _lock_row(session, user)
    if not user.active:
        return Attempt("inactive", user)
    if user.locked_until is not None:
        if now < user.locked_until:
            return Attempt("locked", user, user.locked_until)
        user.failed_attempts, user.locked_until = 0, None  # the lock has run out
    return None


def _fail(session: Session, user: User, now: dt.datetime) -> Attempt:
    user.failed_attempts += 1
    if user.failed_attempts >= LOCK_AFTER:
        user.locked_until = now + LOCK_FOR
    session.flush()
    if user.locked_until is not None:
        return Attempt("locked", user, user.locked_until)
    return Attempt("wrong", user)


def _lock_row(session: Session, user: User) -> None:
    """Take the user's row lock until the caller commits, and refresh the loaded copy."""
    query = (
        select(User)
        .where(User.id == user.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    session.execute(query).one()
