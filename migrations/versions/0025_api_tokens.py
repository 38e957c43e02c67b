"""api tokens: bearer tokens of the JSON API with a role and a scope (issue 17, D27)

`api_tokens` keeps a token's name, role and scope (the same CHECK as `users`), the SHA-256 of
the token (never the token), who created it and when, its last use and its revocation.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
SCOPE_REF = (
    "(scope_kind = 'all' AND scope_union_id IS NULL AND scope_mutual_id IS NULL"
    " AND scope_section_id IS NULL)"
    " OR (scope_kind = 'union' AND scope_union_id IS NOT NULL"
    " AND scope_mutual_id IS NULL AND scope_section_id IS NULL)"
    " OR (scope_kind = 'mutual' AND scope_mutual_id IS NOT NULL"
    " AND scope_union_id IS NULL AND scope_section_id IS NULL)"
    " OR (scope_kind = 'section' AND scope_section_id IS NOT NULL"
    " AND scope_mutual_id IS NOT NULL AND scope_union_id IS NULL)"
)


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_api_tokens_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_union_id", sa.Integer(), nullable=True),
        sa.Column("scope_mutual_id", sa.Integer(), nullable=True),
        sa.Column("scope_section_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        # One line each, names in single quotes: tests/models/test_states.py reads them.
        sa.CheckConstraint("role IN ('admin', 'manager', 'finance', 'viewer')", name=op.f('ck_api_tokens_role')),
        sa.CheckConstraint("scope_kind IN ('all', 'union', 'mutual', 'section')", name=op.f('ck_api_tokens_scope_kind')),
        sa.CheckConstraint(SCOPE_REF, name=op.f("ck_api_tokens_scope_ref")),
        _fk("scope_union_id", "unions"),
        _fk("scope_mutual_id", "mutuals"),
        _fk("scope_section_id", "sections"),
        _fk("created_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
