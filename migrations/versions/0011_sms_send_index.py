"""sms send indexes: queued outbox ids (partial) and reminder occurrences by outbox id

The batch sender lists and claims QUEUED messages by id; a partial index over the QUEUED
ones only keeps that cheap whatever the planner's statistics say and however many messages
were already sent. The paused-campaign check looks occurrences up by their outbox id.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUED = sa.text("status = 'QUEUED'")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_messages_queued",
        "outbox_messages",
        ["id"],
        unique=False,
        postgresql_where=QUEUED,
        sqlite_where=QUEUED,
    )
    op.create_index(
        op.f("ix_reminder_occurrences_outbox_id"),
        "reminder_occurrences",
        ["outbox_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_reminder_occurrences_outbox_id"), table_name="reminder_occurrences")
    op.drop_index("ix_outbox_messages_queued", table_name="outbox_messages")
