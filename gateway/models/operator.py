"""Operators of the console (D27, issue 16): unions of mutuals, users with a role and a scope,
and the append-only log of what they did."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, StrEnumString, one_of, utcnow


class Role(StrEnum):
    """D27: admin (users, settings), manager (members, campaigns, exceptions, reports),
    finance (payments, reconciliation, ledger, funders), viewer (read only)."""

    ADMIN = "admin"
    MANAGER = "manager"
    FINANCE = "finance"
    VIEWER = "viewer"


class ScopeKind(StrEnum):
    """D27: what an operator sees: the whole deployment, a union, a mutual or a section."""

    ALL = "all"
    UNION = "union"
    MUTUAL = "mutual"
    SECTION = "section"


class Union(IdMixin, Base):
    """A union of mutuals (D22 roll-ups, D27 scopes)."""

    __tablename__ = "unions"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(IdMixin, Base):
    """An operator. The scope columns match the kind: exactly one reference for union, mutual
    and section (a section's mutual is read through the section), none for all."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint(one_of("scope_kind", ScopeKind), name="scope_kind"),
        CheckConstraint(one_of("language", ("fr", "en")), name="language"),
        CheckConstraint(
            "(scope_kind = 'all' AND scope_union_id IS NULL AND scope_mutual_id IS NULL"
            " AND scope_section_id IS NULL)"
            " OR (scope_kind = 'union' AND scope_union_id IS NOT NULL"
            " AND scope_mutual_id IS NULL AND scope_section_id IS NULL)"
            " OR (scope_kind = 'mutual' AND scope_mutual_id IS NOT NULL"
            " AND scope_union_id IS NULL AND scope_section_id IS NULL)"
            " OR (scope_kind = 'section' AND scope_section_id IS NOT NULL"
            " AND scope_mutual_id IS NOT NULL AND scope_union_id IS NULL)",
            name="scope_ref",
        ),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts"),
    )

    login: Mapped[str] = mapped_column(String(200), unique=True)  # email or E.164 phone
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(StrEnumString(Role, 10))
    scope_kind: Mapped[ScopeKind] = mapped_column(StrEnumString(ScopeKind, 10))
    scope_union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"), index=True)
    # For a section scope, the section's mutual too: scope filters stay one column compare.
    scope_mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"), index=True)
    scope_section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    language: Mapped[str] = mapped_column(String(2), default="fr")
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    # Base32 TOTP secret: shown once (provisioning URI at creation or enrolment), never again.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column()  # first code accepted
    totp_last_step: Mapped[int | None] = mapped_column()  # a code is accepted once
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OperatorAction(IdMixin, Base):
    """One change an operator made (D27): append-only. `mutual_id`/`section_id`/`union_id`
    are the scope of the object acted on, so the audit page filters by scope on its own
    columns; all three None: a deployment-wide object."""

    __tablename__ = "operator_actions"
    __table_args__ = (
        Index("ix_operator_actions_occurred", "occurred_at", "id"),
        Index("ix_operator_actions_mutual", "mutual_id", "occurred_at", "id"),
    )

    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)  # None: CLI
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(60))  # e.g. user.add, user.unlock
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"))
    section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))


class ApiToken(IdMixin, Base):
    """A bearer token of the JSON API (console.md, issue 17): a role and a scope like a user's
    (the same CHECK); only the SHA-256 of the token is kept (a random 32-byte secret, not a
    password: no slow hash needed), shown once at creation. Revoked, never deleted."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(one_of("role", Role), name="role"),
        CheckConstraint(one_of("scope_kind", ScopeKind), name="scope_kind"),
        CheckConstraint(
            "(scope_kind = 'all' AND scope_union_id IS NULL AND scope_mutual_id IS NULL"
            " AND scope_section_id IS NULL)"
            " OR (scope_kind = 'union' AND scope_union_id IS NOT NULL"
            " AND scope_mutual_id IS NULL AND scope_section_id IS NULL)"
            " OR (scope_kind = 'mutual' AND scope_mutual_id IS NOT NULL"
            " AND scope_union_id IS NULL AND scope_section_id IS NULL)"
            " OR (scope_kind = 'section' AND scope_section_id IS NOT NULL"
            " AND scope_mutual_id IS NOT NULL AND scope_union_id IS NULL)",
            name="scope_ref",
        ),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    role: Mapped[Role] = mapped_column(StrEnumString(Role, 10))
    scope_kind: Mapped[ScopeKind] = mapped_column(StrEnumString(ScopeKind, 10))
    scope_union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    scope_mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"))
    scope_section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the CLI
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
