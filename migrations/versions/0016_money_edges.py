"""money at the edges: allocation reversals (D7b), the day a household's category took effect
(D3), payments held for an operator, and the hold threshold per mutual

- `allocations.generation`: how many times that beneficiary's share for that period was
  allocated before (0, then 1 after a D7b reversal...). The unique index moves from
  (beneficiary, period) to (beneficiary, period, generation): a reversed share may be
  allocated again, but two live allocations of one share still lose an insert race.
- `allocation_reversals`: one row per reversed allocation (never an update of the allocation).
- `households.category_since`: the day the current category took effect, from which a 0-share
  household's automatic periods count (D3: never back-filled). Existing households get the day
  they were recorded.
- `payments.hold_reason`, `released_at`, `released_by`: a payment far above what the household
  could owe waits for an operator; `mutuals.payment_hold_multiple` (default 5 years of shares).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_constraint("uq_allocations_beneficiary_id_period_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_allocations_beneficiary_id_period_id_generation",
            ["beneficiary_id", "period_id", "generation"],
        )
    op.create_table(
        "allocation_reversals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("reversed_on", sa.Date(), nullable=False),
        sa.Column("ledger_key", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.id"],
            name=op.f("fk_allocation_reversals_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_allocation_reversals_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_allocation_reversals_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allocation_reversals")),
        sa.UniqueConstraint("allocation_id", name=op.f("uq_allocation_reversals_allocation_id")),
    )
    op.create_index(
        op.f("ix_allocation_reversals_household_id"),
        "allocation_reversals",
        ["household_id"],
        unique=False,
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category_since", sa.Date(), nullable=True))
    day = "date(created_at)" if op.get_bind().dialect.name == "sqlite" else "created_at::date"
    op.execute(f"UPDATE households SET category_since = {day}")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("released_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("mutuals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payment_hold_multiple", sa.Integer(), nullable=False, server_default="5")
        )


def downgrade() -> None:
    with op.batch_alter_table("mutuals", schema=None) as batch_op:
        batch_op.drop_column("payment_hold_multiple")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("released_by")
        batch_op.drop_column("released_at")
        batch_op.drop_column("hold_reason")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("category_since")
    op.drop_index(op.f("ix_allocation_reversals_household_id"), table_name="allocation_reversals")
    op.drop_table("allocation_reversals")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_constraint(
            "uq_allocations_beneficiary_id_period_id_generation", type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_allocations_beneficiary_id_period_id", ["beneficiary_id", "period_id"]
        )
        batch_op.drop_column("generation")
