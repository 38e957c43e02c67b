"""USSD session ends keep the session's last screen: the console's drop-off per screen

`/console/ussd` shows where the window's dropped sessions (Incomplete, Failed) left: the screen
of each one's last hop. Found at read time, that was a grouped look-up of the last hop of every
dropped session of the window (3 700 sessions for a day of a national deployment, 4 index probes
each: 300-700 ms of the admin's first page, bench/bench_console.py, issue 16). The end
notification now keeps that screen (`last_screen`, written when it arrives: the hops come
before it), and a partial index of the dropped sessions' notifications by time holds what the
count reads, so the count reads the window's dropped notifications only.

Existing notifications get the screen of their session's last hop by one UPDATE (a correlated
look-up on the session index per notification, set-based; none when the session has no hop).

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DROPPED = sa.text("status IN ('Incomplete', 'Failed')")
BACKFILL = (
    "UPDATE ussd_session_events SET last_screen = ("
    "SELECT h.screen FROM ussd_hops h WHERE h.session_id = ussd_session_events.session_id "
    "AND h.provider = ussd_session_events.provider ORDER BY h.id DESC LIMIT 1)"
)


def upgrade() -> None:
    op.add_column("ussd_session_events", sa.Column("last_screen", sa.String(64), nullable=True))
    op.execute(BACKFILL)
    op.create_index(
        "ix_ussd_session_events_dropped",
        "ussd_session_events",
        ["received_at", "mutual_id", "last_screen"],
        unique=False,
        postgresql_where=DROPPED,
        sqlite_where=DROPPED,
    )


def downgrade() -> None:
    op.drop_index("ix_ussd_session_events_dropped", table_name="ussd_session_events")
    with op.batch_alter_table("ussd_session_events") as batch:
        batch.drop_column("last_screen")
