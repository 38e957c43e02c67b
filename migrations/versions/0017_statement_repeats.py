"""statement repeats: lines repeated word for word inside one statement file

A statement file listing one transaction twice (same natural key, same details) is no longer
refused: the repeat is skipped like a line already imported from an overlapping file, and
kept in `statement_repeats` (one row per extra copy of a natural key) for the report's
duplicate bucket (payments.md, "Reconciliation": every statement line in exactly one bucket).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statement_repeats",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("natural_key", sa.String(length=120), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("first_line_no", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint("occurrence >= 2", name=op.f("ck_statement_repeats_occurrence")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_statement_repeats_amount")),
        # One line, quoted as 0010 does: tests/models/test_states.py reads the allowed values.
        sa.CheckConstraint("status IN ('SUCCEEDED', 'FAILED')", name=op.f('ck_statement_repeats_status')),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["statement_files.id"],
            name=op.f("fk_statement_repeats_file_id_statement_files"),
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_statement_repeats_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_repeats")),
        sa.UniqueConstraint(
            "mutual_id",
            "provider",
            "natural_key",
            "occurrence",
            name=op.f("uq_statement_repeats_mutual_id_provider_natural_key_occurrence"),
        ),
    )
    with op.batch_alter_table("statement_repeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_repeats_file_id"), ["file_id"], unique=False
        )
        batch_op.create_index(
            "ix_statement_repeats_scope", ["mutual_id", "provider", "day"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("statement_repeats", schema=None) as batch_op:
        batch_op.drop_index("ix_statement_repeats_scope")
        batch_op.drop_index(batch_op.f("ix_statement_repeats_file_id"))
    op.drop_table("statement_repeats")
