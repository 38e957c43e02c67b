"""console enrolments: an enrolment typed by a manager on the console has no collector (D24)

`enrolments.agent_id` becomes nullable: a household a manager enrols from `/console/enrolments/new`
is typed and approved in one go, by an operator (recorded in `decided_by` and its
`operator_actions` row), not by a collector. The collector's draft index is unchanged (a draft
always has one).

Revision ID: 0038
Revises: 0036
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DRAFT = sa.text("status = 'DRAFT'")


def _set_nullable(nullable: bool) -> None:
    # SQLite rebuilds the table: the partial index is dropped and made again around it.
    op.drop_index("ux_enrolments_draft_agent", table_name="enrolments")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.alter_column("agent_id", existing_type=sa.Integer(), nullable=nullable)
    op.create_index(
        "ux_enrolments_draft_agent",
        "enrolments",
        ["agent_id"],
        unique=True,
        postgresql_where=DRAFT,
        sqlite_where=DRAFT,
    )


def upgrade() -> None:
    _set_nullable(True)


def downgrade() -> None:
    found = op.get_bind().scalar(sa.text("SELECT count(*) FROM enrolments WHERE agent_id IS NULL"))
    if found:
        raise RuntimeError(
            f"{found} enrolments were made on the console (no collector): "
            "0034 cannot hold them"
        )
    _set_nullable(False)
