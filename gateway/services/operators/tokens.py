"""Bearer tokens of the JSON API (console.md "JSON API", issue 17): created for a role and a
scope by an admin, shown once, stored as their SHA-256 (a random 32-byte secret needs no slow
hash: nobody guesses it), revoked rather than deleted. Each creation and revocation records
one `operator_actions` row in the caller's transaction (D27)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import ApiToken, Role
from gateway.services.operators.actions import Actor, record_action
from gateway.services.operators.users import OperatorError, ScopeRef, describe

TOKEN_BYTES = 32
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is refreshed at most once a minute


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    secret: str  # shown once, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_scope(token: ApiToken) -> ScopeRef:
    return ScopeRef(
        token.scope_kind, token.scope_union_id, token.scope_mutual_id, token.scope_section_id
    )


def add_token(
    session: Session, actor: Actor, *, name: str, role: Role, scope: ScopeRef, now: dt.datetime
) -> NewToken:
    """A new token named `name` (unique, revoked ones included)."""
    name = name.strip()
    if not name:
        raise OperatorError("a token needs a name")
    if session.scalars(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
        raise OperatorError(f"a token {name} exists already")
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(
        name=name,
        token_hash=token_hash(secret),
        role=role,
        scope_kind=scope.kind,
        scope_union_id=scope.union_id,
        scope_mutual_id=scope.mutual_id,
        scope_section_id=scope.section_id,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    after = {"name": name, "role": str(role), "scope": describe(scope)}
    record_action(
        session, actor, "token.add", ("api_token", row.id), now=now, where=scope.where, after=after
    )
    return NewToken(row, secret)


def revoke_token(session: Session, actor: Actor, name: str, *, now: dt.datetime) -> ApiToken:
    """Revoke the token `name`: its next request is refused (401)."""
    row = session.scalars(select(ApiToken).where(ApiToken.name == name)).one_or_none()
    if row is None:
        raise OperatorError(f"no token {name}")
    if row.revoked_at is not None:
        raise OperatorError(f"token {name} is revoked already")
    row.revoked_at = now
    record_action(
        session,
        actor,
        "token.revoke",
        ("api_token", row.id),
        now=now,
        where=token_scope(row).where,
        before={"revoked_at": None},
        after={"revoked_at": now.isoformat()},
    )
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def authenticate(session: Session, secret: str, *, now: dt.datetime) -> ApiToken | None:
    """The live token whose hash matches `secret` (None: unknown or revoked); its last use
    is refreshed (at most once a minute, so a busy client does not write every request)."""
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == token_hash(secret))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return row
