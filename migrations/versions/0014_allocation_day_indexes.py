"""allocation day indexes: allocations by allocation day and by period

The coverage-start notices (gateway.services.notices) look for the allocations whose cover can
start on a day: allocated on a given day, or paid for a period starting on a given day. Both
columns are indexed so that an hourly run reads those few rows, not every allocation of the
mutual.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_allocations_allocated_on"), "allocations", ["allocated_on"], unique=False
    )
    op.create_index(op.f("ix_allocations_period_id"), "allocations", ["period_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_allocations_period_id"), table_name="allocations")
    op.drop_index(op.f("ix_allocations_allocated_on"), table_name="allocations")
