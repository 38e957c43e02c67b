"""reminder day: at most one campaign reminder per household and local day (D15)

`reminder_occurrences.sent_on`: the mutual's local date of the run that recorded the row, and
a partial UNIQUE index on (household_id, sent_on) over the 'sent' rows only, so that two
reminders can never both be sent to one household on one local day, whichever worker or
campaign records them (the loser of a conflict is recorded 'skipped'). Rows recorded before
this revision keep sent_on NULL: they could already hold two reminders on one day, and NULLs
never conflict.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENT = sa.text("status = 'sent'")


def upgrade() -> None:
    with op.batch_alter_table("reminder_occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_on", sa.Date(), nullable=True))
    op.create_index(
        "uq_reminder_occurrences_daily",
        "reminder_occurrences",
        ["household_id", "sent_on"],
        unique=True,
        postgresql_where=SENT,
        sqlite_where=SENT,
    )


def downgrade() -> None:
    op.drop_index("uq_reminder_occurrences_daily", table_name="reminder_occurrences")
    with op.batch_alter_table("reminder_occurrences", schema=None) as batch_op:
        batch_op.drop_column("sent_on")
