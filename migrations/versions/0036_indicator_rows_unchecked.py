"""indicator rows without foreign keys (issue 17, acceptance 5)

`indicators` is derived: the indicators job deletes and rewrites a mutual's rows, computed in
the same transaction from joins with its locked mutual row and its sections. The two foreign
keys checked each of those rows one by one (about 167 000 for 100 mutuals, a fifth to a third of
the full recompute's time on PostgreSQL) and guarded against nothing the job does not already ensure:
no code deletes a mutual or a section.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (("mutual_id", "mutuals"), ("section_id", "sections"))


def upgrade() -> None:
    with op.batch_alter_table("indicators") as batch:
        for column, table in KEYS:
            batch.drop_constraint(op.f(f"fk_indicators_{column}_{table}"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("indicators") as batch:
        for column, table in KEYS:
            batch.create_foreign_key(
                op.f(f"fk_indicators_{column}_{table}"), table, [column], ["id"]
            )
