"""Operators and unions (D27, issue 16): create, deactivate, unlock, reset a password; each
change records one `operator_actions` row in the caller's transaction. Used by the CLI
(`gateway users add`, `gateway unions ...`) and the console's users page alike."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Mutual, Role, ScopeKind, Section, Union, User
from gateway.services.operators.actions import Actor, Where, record_action
from gateway.services.operators.passwords import hash_password
from gateway.services.operators.totp import new_secret, provisioning_uri

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
# Roles that must have a second factor (enforced in production, console.md).
TOTP_ROLES = (Role.ADMIN, Role.FINANCE)


class OperatorError(ValueError):
    """A refused change: unknown scope, bad login, duplicate, ..."""


@dataclass(frozen=True)
class ScopeRef:
    """A scope as stored on a user: the kind and its references."""

    kind: ScopeKind
    union_id: int | None = None
    mutual_id: int | None = None
    section_id: int | None = None

    @property
    def where(self) -> Where:
        return Where(self.union_id, self.mutual_id, self.section_id)


def normalize_login(raw: str) -> str:
    """An email (lower-cased) or an E.164 phone (`+226...`)."""
    text = raw.strip()
    if _EMAIL.fullmatch(text):
        return text.lower()
    compact = re.sub(r"[\s.-]", "", text)
    if _PHONE.fullmatch(compact):
        return compact
    raise OperatorError(f"a login is an email or a phone in +E.164 form, not {raw!r}")


def parse_scope(session: Session, text: str) -> ScopeRef:
    """`all`, `union:CODE`, `mutual:CODE` or `section:CODE/NAME` -> the stored references."""
    kind, _, ref = text.strip().partition(":")
    if kind == ScopeKind.ALL and not ref:
        return ScopeRef(ScopeKind.ALL)
    if kind == ScopeKind.UNION and ref:
        union = session.scalars(select(Union).where(Union.code == ref)).one_or_none()
        if union is None:
            raise OperatorError(f"no union {ref}")
        return ScopeRef(ScopeKind.UNION, union_id=union.id)
    if kind == ScopeKind.MUTUAL and ref:
        return ScopeRef(ScopeKind.MUTUAL, mutual_id=_mutual(session, ref).id)
    if kind == ScopeKind.SECTION and "/" in ref:
        code, _, name = ref.partition("/")
        mutual = _mutual(session, code)
        section = session.scalars(
            select(Section).where(Section.mutual_id == mutual.id, Section.name == name)
        ).one_or_none()
        if section is None:
            raise OperatorError(f"no section {name!r} in mutual {code}")
        return ScopeRef(ScopeKind.SECTION, mutual_id=mutual.id, section_id=section.id)
    raise OperatorError(
        f"a scope is all, union:CODE, mutual:CODE or section:CODE/NAME, not {text!r}"
    )


def _mutual(session: Session, code: str) -> Mutual:
    mutual = session.scalars(select(Mutual).where(Mutual.code == code)).one_or_none()
    if mutual is None:
        raise OperatorError(f"no mutual {code}")
    return mutual


def scope_of(user: User) -> ScopeRef:
    return ScopeRef(
        user.scope_kind, user.scope_union_id, user.scope_mutual_id, user.scope_section_id
    )


@dataclass(frozen=True)
class NewUser:
    user: User
    totp_uri: str | None  # shown once, at creation, for admin and finance


def add_user(
    session: Session,
    actor: Actor,
    *,
    login: str,
    password: str,
    role: Role,
    scope: ScopeRef,
    now: dt.datetime,
    name: str = "",
    language: str = "fr",
    with_totp: bool = True,
) -> NewUser:
    """A new operator; admin and finance get a TOTP secret whose URI is returned once
    (`with_totp=False`: they enrol themselves at their first sign-in, in the console)."""
    login = normalize_login(login)
    if session.scalars(select(User.id).where(User.login == login)).first() is not None:
        raise OperatorError(f"a user {login} exists already")
    secret = new_secret() if with_totp and role in TOTP_ROLES else None
    user = User(
        login=login,
        name=name,
        password_hash=hash_password(password),
        role=role,
        scope_kind=scope.kind,
        scope_union_id=scope.union_id,
        scope_mutual_id=scope.mutual_id,
        scope_section_id=scope.section_id,
        language=language,
        active=True,
        failed_attempts=0,
        totp_secret=secret,
        created_at=now,
    )
    session.add(user)
    session.flush()
    after = {"login": login, "role": str(role), "scope": describe(scope), "language": language}
    record_action(
        session, actor, "user.add", ("user", user.id), now=now, where=scope.where, after=after
    )
    return NewUser(user, provisioning_uri(secret, login) if secret else None)


def describe(scope: ScopeRef) -> str:
    """`mutual:12`: the kind and its reference id, for the log's before/after."""
    ref = scope.section_id or scope.mutual_id or scope.union_id
    return f"{scope.kind}:{ref}" if ref else str(scope.kind)


def set_active(
    session: Session, actor: Actor, user: User, active: bool, *, now: dt.datetime, reason: str
) -> None:
    """Deactivate (or reactivate) an operator: a deactivated one cannot sign in."""
    if user.active == active:
        return
    before = {"active": user.active}
    user.active = active
    action = "user.activate" if active else "user.deactivate"
    record_action(
        session,
        actor,
        action,
        ("user", user.id),
        now=now,
        where=scope_of(user).where,
        before=before,
        after={"active": active},
        reason=reason,
    )


def unlock(session: Session, actor: Actor, user: User, *, now: dt.datetime) -> None:
    """Clear a lock-out and its failure count."""
    before = {"failed_attempts": user.failed_attempts, "locked_until": _iso(user.locked_until)}
    user.failed_attempts, user.locked_until = 0, None
    record_action(
        session,
        actor,
        "user.unlock",
        ("user", user.id),
        now=now,
        where=scope_of(user).where,
        before=before,
    )


def reset_password(
    session: Session, actor: Actor, user: User, password: str, *, now: dt.datetime
) -> None:
    """A new password (never logged), and the lock-out cleared."""
    user.password_hash = hash_password(password)
    user.failed_attempts, user.locked_until = 0, None
    record_action(
        session,
        actor,
        "user.reset_password",
        ("user", user.id),
        now=now,
        where=scope_of(user).where,
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def add_union(session: Session, actor: Actor, code: str, name: str, *, now: dt.datetime) -> Union:
    if session.scalars(select(Union.id).where(Union.code == code)).first() is not None:
        raise OperatorError(f"a union {code} exists already")
    union = Union(code=code, name=name, created_at=now)
    session.add(union)
    session.flush()
    record_action(
        session,
        actor,
        "union.add",
        ("union", union.id),
        now=now,
        where=Where(union_id=union.id),
        after={"code": code, "name": name},
    )
    return union


def attach_mutual(
    session: Session, actor: Actor, mutual_code: str, union_code: str | None, *, now: dt.datetime
) -> Mutual:
    """Put a mutual in a union (None: in no union)."""
    mutual = _mutual(session, mutual_code)
    union_id = None
    if union_code:
        union = session.scalars(select(Union).where(Union.code == union_code)).one_or_none()
        if union is None:
            raise OperatorError(f"no union {union_code}")
        union_id = union.id
    before = {"union_id": mutual.union_id}
    mutual.union_id = union_id
    record_action(
        session,
        actor,
        "mutual.set_union",
        ("mutual", mutual.id),
        now=now,
        where=Where(union_id=union_id, mutual_id=mutual.id),
        before=before,
        after={"union_id": union_id},
    )
    return mutual
