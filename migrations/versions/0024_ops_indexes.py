"""console operations indexes: payment intents by (created_at, id), flagged intents and
abandoned callback events (partial)

`/console/payments` pages intents newest first on (created_at, id) (keyset, issue 16) and
shows the stuck ones first: escalated (flagged) intents and intents with a callback the
sweeper gave up on are a handful among millions, so each has a partial index of its own.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAGGED = sa.text("flag IS NOT NULL")
ABANDONED = sa.text("outcome = 'abandoned'")


def upgrade() -> None:
    op.create_index(
        "ix_payment_intents_created", "payment_intents", ["created_at", "id"], unique=False
    )
    op.create_index(
        "ix_payment_intents_flagged",
        "payment_intents",
        ["id"],
        unique=False,
        postgresql_where=FLAGGED,
        sqlite_where=FLAGGED,
    )
    op.create_index(
        "ix_payment_events_abandoned",
        "payment_events",
        ["intent_id"],
        unique=False,
        postgresql_where=ABANDONED,
        sqlite_where=ABANDONED,
    )


def downgrade() -> None:
    op.drop_index("ix_payment_events_abandoned", table_name="payment_events")
    op.drop_index("ix_payment_intents_flagged", table_name="payment_intents")
    op.drop_index("ix_payment_intents_created", table_name="payment_intents")
