"""exports: CSV exports of the console's lists run as jobs (console.md "JSON API", issue 17)

`exports` keeps one row per request: the list, the requester (a user or an API token) and the
scope copied from them, the date range and filters, the job's state, the gzipped file's name,
the row count, and when the download link expires. A partial unique index allows one queued or
running export per requester and list.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
UNFINISHED = sa.text("state IN ('queued', 'running')")


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_exports_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("list_name", sa.String(length=16), nullable=False),
        sa.Column("requester", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("scope_kind", sa.String(length=10), nullable=False),
        sa.Column("scope_union_id", sa.Integer(), nullable=True),
        sa.Column("scope_mutual_id", sa.Integer(), nullable=True),
        sa.Column("scope_section_id", sa.Integer(), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        # One line each, names in single quotes: tests/models/test_states.py reads them.
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_exports_state')),
        sa.CheckConstraint("list_name IN ('sms', 'payments', 'ussd', 'audit', 'members')", name=op.f('ck_exports_list_name')),
        sa.CheckConstraint("scope_kind IN ('all', 'union', 'mutual', 'section')", name=op.f('ck_exports_scope_kind')),
        sa.CheckConstraint("date_to >= date_from", name=op.f("ck_exports_dates")),
        _fk("user_id", "users"),
        _fk("token_id", "api_tokens"),
        _fk("scope_union_id", "unions"),
        _fk("scope_mutual_id", "mutuals"),
        _fk("scope_section_id", "sections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index(
        "uq_exports_unfinished",
        "exports",
        ["requester", "list_name"],
        unique=True,
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )
    op.create_index("ix_exports_requester", "exports", ["requester", "requested_at"])


def downgrade() -> None:
    op.drop_index("ix_exports_requester", table_name="exports")
    op.drop_index("uq_exports_unfinished", table_name="exports")
    op.drop_table("exports")
