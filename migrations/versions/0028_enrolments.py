"""enrolments: field enrolments waiting for a manager, and per-mutual number serials (D24)

`enrolments` keeps a household as a collector typed it on USSD (DRAFT while typing, one per
collector; PENDING once confirmed; APPROVED or REJECTED by a manager), with what it may
duplicate; `enrolment_dependants` its dependants in order; `number_sequences` the last
household serial generated per mutual (numbers with a Damm check digit, issue 18).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
DRAFT = sa.text("status = 'DRAFT'")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "enrolments",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("head_name", sa.String(length=200), nullable=True),
        sa.Column("head_sex", sa.String(length=1), nullable=True),
        sa.Column("head_year", sa.Integer(), nullable=True),
        sa.Column("head_phone", sa.String(length=16), nullable=True),
        sa.Column("section_chosen", sa.Boolean(), nullable=False),
        sa.Column("dependants_expected", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("duplicates", sa.JSON(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("submitted_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        # One line each, names in single quotes: tests/models/test_states.py reads them.
        sa.CheckConstraint("status IN ('DRAFT', 'PENDING', 'APPROVED', 'REJECTED')", name=op.f('ck_enrolments_status')),
        sa.CheckConstraint("head_sex IN ('M', 'F')", name=op.f("ck_enrolments_head_sex")),
        _fk("enrolments", "mutual_id", "mutuals"),
        _fk("enrolments", "section_id", "sections"),
        _fk("enrolments", "agent_id", "agents"),
        _fk("enrolments", "household_id", "households"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
    )
    op.create_index(op.f("ix_enrolments_agent_id"), "enrolments", ["agent_id"])
    op.create_index("ix_enrolments_mutual_status", "enrolments", ["mutual_id", "status", "id"])
    op.create_index(
        "ux_enrolments_draft_agent",
        "enrolments",
        ["agent_id"],
        unique=True,
        postgresql_where=DRAFT,
        sqlite_where=DRAFT,
    )
    op.create_table(
        "enrolment_dependants",
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint("sex IN ('M', 'F')", name=op.f("ck_enrolment_dependants_sex")),
        _fk("enrolment_dependants", "enrolment_id", "enrolments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_dependants")),
        sa.UniqueConstraint(
            "enrolment_id", "position", name=op.f("uq_enrolment_dependants_enrolment_id_position")
        ),
    )
    op.create_index(
        op.f("ix_enrolment_dependants_enrolment_id"), "enrolment_dependants", ["enrolment_id"]
    )
    op.create_table(
        "number_sequences",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        _fk("number_sequences", "mutual_id", "mutuals"),
        sa.PrimaryKeyConstraint("mutual_id", name=op.f("pk_number_sequences")),
    )


def downgrade() -> None:
    op.drop_table("number_sequences")
    op.drop_index(op.f("ix_enrolment_dependants_enrolment_id"), table_name="enrolment_dependants")
    op.drop_table("enrolment_dependants")
    op.drop_index("ux_enrolments_draft_agent", table_name="enrolments")
    op.drop_index("ix_enrolments_mutual_status", table_name="enrolments")
    op.drop_index(op.f("ix_enrolments_agent_id"), table_name="enrolments")
    op.drop_table("enrolments")
