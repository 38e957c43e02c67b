"""operators: unions, mutuals.union_id, users and the append-only operator_actions (issue 16, D27)

`unions` group mutuals; `users` are the console's operators with a role and a scope (all, a
union, a mutual, a section: one CHECK ties the kind to its reference); `operator_actions` is
the log of every change an operator makes, append-only like the ledger (database triggers
refuse UPDATE and DELETE), indexed on (occurred_at, id) for the audit page's keyset paging and
on (mutual_id, occurred_at, id) for a mutual's operators. `payments` gets an index on
(paid_on, mutual_id) for the console's figures of the day.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
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
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION operator_actions_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'operator_actions is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "unions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unions")),
        sa.UniqueConstraint("code", name=op.f("uq_unions_code")),
    )
    with op.batch_alter_table("mutuals") as batch:
        batch.add_column(sa.Column("union_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_mutuals_union_id_unions"), "unions", ["union_id"], ["id"]
        )
        batch.create_index(op.f("ix_mutuals_union_id"), ["union_id"], unique=False)
    _create_users()
    _create_operator_actions()
    _append_only()
    # The home page's payments of the day (gateway.console.figures).
    op.create_index("ix_payments_paid_on", "payments", ["paid_on", "mutual_id"], unique=False)


def _create_users() -> None:
    op.create_table(
        "users",
        sa.Column("login", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_union_id", sa.Integer(), nullable=True),
        sa.Column("scope_mutual_id", sa.Integer(), nullable=True),
        sa.Column("scope_section_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", UTC, nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enrolled_at", UTC, nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'manager', 'finance', 'viewer')", name=op.f('ck_users_role')),
        sa.CheckConstraint("scope_kind IN ('all', 'union', 'mutual', 'section')", name=op.f('ck_users_scope_kind')),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_users_language")),
        sa.CheckConstraint(SCOPE_REF, name=op.f("ck_users_scope_ref")),
        sa.CheckConstraint("failed_attempts >= 0", name=op.f("ck_users_failed_attempts")),
        _fk("users", "scope_union_id", "unions"),
        _fk("users", "scope_mutual_id", "mutuals"),
        _fk("users", "scope_section_id", "sections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_index(op.f("ix_users_scope_union_id"), "users", ["scope_union_id"], unique=False)
    op.create_index(op.f("ix_users_scope_mutual_id"), "users", ["scope_mutual_id"], unique=False)


def _create_operator_actions() -> None:
    op.create_table(
        "operator_actions",
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("union_id", sa.Integer(), nullable=True),
        sa.Column("mutual_id", sa.Integer(), nullable=True),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("operator_actions", "user_id", "users"),
        _fk("operator_actions", "union_id", "unions"),
        _fk("operator_actions", "mutual_id", "mutuals"),
        _fk("operator_actions", "section_id", "sections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_index(
        op.f("ix_operator_actions_user_id"), "operator_actions", ["user_id"], unique=False
    )
    op.create_index(
        "ix_operator_actions_occurred", "operator_actions", ["occurred_at", "id"], unique=False
    )
    op.create_index(
        "ix_operator_actions_mutual",
        "operator_actions",
        ["mutual_id", "occurred_at", "id"],
        unique=False,
    )


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE ON "
            "operator_actions FOR EACH ROW EXECUTE FUNCTION operator_actions_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER operator_actions_no_{action.lower()} BEFORE {action} ON "
            f"operator_actions BEGIN SELECT RAISE(ABORT, 'operator_actions is append-only: "
            f"{action} refused'); END"
        )


def downgrade() -> None:
    op.drop_index("ix_payments_paid_on", table_name="payments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS operator_actions_append_only ON operator_actions")
        op.execute("DROP FUNCTION IF EXISTS operator_actions_append_only()")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS operator_actions_no_{action}")
    op.drop_index("ix_operator_actions_mutual", table_name="operator_actions")
    op.drop_index("ix_operator_actions_occurred", table_name="operator_actions")
    op.drop_index(op.f("ix_operator_actions_user_id"), table_name="operator_actions")
    op.drop_table("operator_actions")
    op.drop_index(op.f("ix_users_scope_mutual_id"), table_name="users")
    op.drop_index(op.f("ix_users_scope_union_id"), table_name="users")
    op.drop_table("users")
    with op.batch_alter_table("mutuals") as batch:
        batch.drop_index(op.f("ix_mutuals_union_id"))
        batch.drop_constraint(op.f("fk_mutuals_union_id_unions"), type_="foreignkey")
        batch.drop_column("union_id")
    op.drop_table("unions")
