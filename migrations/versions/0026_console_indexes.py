"""console indexes at scale: a household's timeline read in index order, the apology hops

Measured with bench/bench_console.py (10 million hops, 1 million SMS and intents over 90 days;
one busy household with 20 000 hops, 2 000 SMS and 2 000 intents), issue 16:

- a household's rows are scattered over the log tables, so each timeline source must be read
  newest first from an index that ends with (created_at, id) after its conditions, stopping
  after a page; with single-column indexes PostgreSQL fetched all the household's rows (20 000
  random heap pages for the hops: 0.7 s) to sort them. The USSD audit's phone indexes gain the
  mutual and the id; the SMS by phone and by household, the intents and the payments by
  household gain (created_at, id), replacing the single-column indexes of the same names;
- a household page by number for an operator of several mutuals (the unique index starts with
  the mutual): households by number (120 ms -> an index look-up);
- the payment made by an intent is found by `payment_id` (new index) instead of reading every
  intent of the household;
- `/console/ussd?errors=1`: the rare apology hops of a window, by a partial index of them
  instead of every hop of the window (236 ms of 336 ms for a day).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APOLOGY = sa.text("screen = 'apology'")
# (index, table, columns now, columns before)
REPLACED = (
    ("ix_ussd_hops_phone_key", "ussd_hops",
     ["phone_key", "mutual_id", "created_at", "id"], ["phone_key", "created_at"]),
    ("ix_ussd_session_events_phone_key", "ussd_session_events",
     ["phone_key", "mutual_id", "received_at", "id"], ["phone_key", "received_at"]),
    ("ix_outbox_messages_household_id", "outbox_messages",
     ["household_id", "created_at", "id"], ["household_id"]),
    ("ix_outbox_messages_phone", "outbox_messages", ["phone", "created_at", "id"], ["phone"]),
    ("ix_payment_intents_household_id", "payment_intents",
     ["household_id", "created_at", "id"], ["household_id"]),
    ("ix_payments_household_id", "payments", ["household_id", "created_at", "id"],
     ["household_id"]),
)  # fmt: skip


def upgrade() -> None:
    for name, table, columns, _ in REPLACED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
    op.create_index("ix_payment_intents_payment_id", "payment_intents", ["payment_id"])
    op.create_index("ix_households_number", "households", ["number"])
    op.create_index(
        "ix_ussd_hops_apology",
        "ussd_hops",
        ["created_at", "session_id"],
        unique=False,
        postgresql_where=APOLOGY,
        sqlite_where=APOLOGY,
    )


def downgrade() -> None:
    op.drop_index("ix_ussd_hops_apology", table_name="ussd_hops")
    op.drop_index("ix_households_number", table_name="households")
    op.drop_index("ix_payment_intents_payment_id", table_name="payment_intents")
    for name, table, _, columns in REPLACED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, unique=False)
