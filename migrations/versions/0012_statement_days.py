"""statement days: each statement file's lines of a day, totalled at import

Settlement (one posting per file and day) and the provider's newest line (the settlement
lag's horizon) read these totals instead of scanning a day's lines. Files imported before
this revision get theirs from their lines here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
INSERT INTO statement_days (file_id, day, mutual_id, provider, lines, paid, collected, fees,
                            newest_at)
SELECT file_id, day, mutual_id, provider, count(*),
       sum(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END),
       sum(CASE WHEN status = 'SUCCEEDED' THEN amount ELSE 0 END),
       sum(CASE WHEN status = 'SUCCEEDED' THEN fee ELSE 0 END),
       max(occurred_at)
FROM statement_lines
GROUP BY file_id, day, mutual_id, provider
"""


def upgrade() -> None:
    op.create_table(
        "statement_days",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("collected", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("newest_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "lines > 0 AND paid >= 0 AND paid <= lines", name=op.f("ck_statement_days_lines")
        ),
        sa.CheckConstraint(
            "collected >= 0 AND fees >= 0 AND fees <= collected",
            name=op.f("ck_statement_days_money"),
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["statement_files.id"],
            name=op.f("fk_statement_days_file_id_statement_files"),
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_statement_days_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("file_id", "day", name=op.f("pk_statement_days")),
    )
    op.create_index("ix_statement_days_scope", "statement_days", ["mutual_id", "provider", "day"])
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index("ix_statement_days_scope", table_name="statement_days")
    op.drop_table("statement_days")
