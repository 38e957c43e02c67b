"""lean hop: per-household coverage snapshots and number indexes across mutuals (issue 19)

`coverage_snapshots` keeps one row per household: its book reduced to what a coverage screen
reads (gateway.services.coverage.snapshot), so that a hop costs the same whatever the
household's history. `ix_beneficiaries_number`, with 0026's `ix_households_number`, makes
`gateway eligibility NUMBER` without `--mutual` an index lookup instead of sequential scans
(the unique keys lead with mutual_id). Existing households get their snapshot from
`gateway coverage snapshots` (or their next change); until then a hop reads the full book.

Revision ID: 0030
Revises: 0028
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "coverage_snapshots",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_coverage_snapshots_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("household_id", name=op.f("pk_coverage_snapshots")),
    )
    op.create_index("ix_beneficiaries_number", "beneficiaries", ["number"])


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_number", table_name="beneficiaries")
    op.drop_table("coverage_snapshots")
