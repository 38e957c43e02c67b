"""hop owners: the USSD audit's mutual and phone key, and the console's name search (issue 16)

`ussd_hops` and `ussd_session_events` get `mutual_id` (the mutual the caller was identified
for; None when no mutual serves the code) and `phone_key` (the keyed hash of the full phone,
gateway.lib.phones.phone_key), indexed on (phone_key, time) for a member's calls and on
(mutual_id, time, id) for a mutual's sessions, keyset-paged. Rows written before stay NULL:
only the `all` scope sees them, as before. `beneficiaries` gets an index on lower(full_name)
for the members search's case-insensitive prefix (text_pattern_ops on PostgreSQL, so that
`LIKE 'abc%'` uses it whatever the collation).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 17:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (("ussd_hops", "created_at"), ("ussd_session_events", "received_at"))


def upgrade() -> None:
    for table, at in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("mutual_id", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("phone_key", sa.String(length=32), nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_mutual_id_mutuals"), "mutuals", ["mutual_id"], ["id"]
            )
            batch.create_index(f"ix_{table}_phone_key", ["phone_key", at], unique=False)
            batch.create_index(f"ix_{table}_mutual", ["mutual_id", at, "id"], unique=False)
    ops = " text_pattern_ops" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f"CREATE INDEX ix_beneficiaries_name ON beneficiaries (lower(full_name){ops})")


def downgrade() -> None:
    op.execute("DROP INDEX ix_beneficiaries_name")
    for table, _at in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_mutual")
            batch.drop_index(f"ix_{table}_phone_key")
            batch.drop_constraint(op.f(f"fk_{table}_mutual_id_mutuals"), type_="foreignkey")
            batch.drop_column("phone_key")
            batch.drop_column("mutual_id")
