"""indicators: D22 figures as numerator/denominator rows, target populations (M.5) and the
dirty marks that make the indicators job recompute a mutual's periods (issue 17)

Revision ID: 0032
Revises: 0030
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "indicators",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("indicators", "mutual_id", "mutuals"),
        _fk("indicators", "section_id", "sections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
    )
    op.create_index("ix_indicators_mutual_id_period", "indicators", ["mutual_id", "period"])
    op.create_table(
        "indicator_targets",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint("population > 0", name=op.f("ck_indicator_targets_population")),
        _fk("indicator_targets", "mutual_id", "mutuals"),
        _fk("indicator_targets", "section_id", "sections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_targets")),
        sa.UniqueConstraint(
            "mutual_id",
            "section_id",
            "year",
            name=op.f("uq_indicator_targets_mutual_id_section_id_year"),
        ),
    )
    op.create_table(
        "indicator_dirty",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("marked_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        _fk("indicator_dirty", "mutual_id", "mutuals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_dirty")),
    )


def downgrade() -> None:
    op.drop_table("indicator_dirty")
    op.drop_table("indicator_targets")
    op.drop_index("ix_indicators_mutual_id_period", table_name="indicators")
    op.drop_table("indicators")
