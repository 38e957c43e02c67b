"""ledger holds: a mutual's ledger on hold after a failed audit (payments.md, "Ledger")

`ledger_holds`: one row per hold (when it was set, the breaches that set it, its alert, who
cleared it, when and why, the breaches accepted by a forced clear), never deleted. A partial
UNIQUE index on mutual_id over the open rows (cleared_at IS NULL): at most one open hold per
mutual, and the index `on_hold` probes before every allocation.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("cleared_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "ledger_holds",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("breaches", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=100), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.Column("accepted", sa.JSON(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_ledger_holds_alert_id_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_ledger_holds_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    op.create_index(
        op.f("ix_ledger_holds_mutual_id"), "ledger_holds", ["mutual_id"], unique=False
    )
    op.create_index(
        "uq_ledger_holds_open",
        "ledger_holds",
        ["mutual_id"],
        unique=True,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("uq_ledger_holds_open", table_name="ledger_holds")
    op.drop_index(op.f("ix_ledger_holds_mutual_id"), table_name="ledger_holds")
    op.drop_table("ledger_holds")
