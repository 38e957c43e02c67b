"""short name and renewal notice: what SMS start with, and when a renewal is offered

`mutuals.short_name` (what every SMS starts with; NULL: the mutual's code) and
`products.renewal_notice_days` (D6b: a renewal is offered once the current period ends
within that many days; 60 unless the mutual's file says otherwise).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mutuals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_name", sa.String(length=24), nullable=True))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("renewal_notice_days", sa.Integer(), nullable=False, server_default="60")
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("renewal_notice_days")
    with op.batch_alter_table("mutuals", schema=None) as batch_op:
        batch_op.drop_column("short_name")
