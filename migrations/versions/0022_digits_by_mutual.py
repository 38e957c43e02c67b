"""digits by mutual: (mutual_id, digits) indexes on households and beneficiaries (issue 15)

The members import checks every number of a file for same-digit numbers of the register
(ussd.md) in SQL, and the USSD lookup finds a typed number by its digits, both within one
mutual. With only single-column indexes, SQLite searched by `mutual_id` (every row of the
mutual for each probe: hours for a 100 000-row re-import); the composite index makes each
probe an index lookup on both backends.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_households_mutual_id_digits", "households"),
    ("ix_beneficiaries_mutual_id_digits", "beneficiaries"),
)


def upgrade() -> None:
    for name, table in INDEXES:
        op.create_index(name, table, ["mutual_id", "digits"])


def downgrade() -> None:
    for name, table in INDEXES:
        op.drop_index(name, table_name=table)
