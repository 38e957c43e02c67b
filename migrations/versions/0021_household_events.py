"""household events: the register as dated events (D23), earlier membership spells, facility
checks (D26) (issue 18)

`household_events`: one row per change of a household (type, effective date, payload, reason,
who and when), unique per mutual by a digest of its content so that a duplicate submission adds
nothing. `membership_spells`: a beneficiary's earlier memberships, closed by a departure and kept
when they re-enrol. `households.dated_register`: set once a household has earlier spells or
suspensions, so that reading its book costs no query otherwise. `facility_checks`: each beneficiary check on USSD, once per USSD step.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-07 16:53:00.419853
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dated_register", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "facility_checks",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("facility", sa.String(length=100), nullable=True),
        sa.Column("card_number", sa.String(length=32), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=True),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_facility_checks_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_facility_checks_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_facility_checks_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facility_checks")),
        sa.UniqueConstraint("key", name=op.f("uq_facility_checks_key")),
    )
    with op.batch_alter_table("facility_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_facility_checks_checked_on"), ["checked_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_facility_checks_mutual_id"), ["mutual_id"], unique=False
        )

    op.create_table(
        "household_events",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "type IN ('enrol', 'add-dependant', 'depart', 'death', 'reenrol', 'change-head', 'category', 'product', 'suspend', 'lift', 'correct')",
            name=op.f("ck_household_events_type"),
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_household_events_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_events_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_household_events_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_events")),
        sa.UniqueConstraint("mutual_id", "key", name=op.f("uq_household_events_mutual_id_key")),
    )
    with op.batch_alter_table("household_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_household_events_beneficiary_id"), ["beneficiary_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_household_events_household_id"), ["household_id"], unique=False
        )

    op.create_table(
        "membership_spells",
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("beneficiary_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("ended_as", sa.String(length=10), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name=op.f("fk_membership_spells_beneficiary_id_beneficiaries"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_membership_spells_household_id_households"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_spells")),
        sa.UniqueConstraint(
            "beneficiary_id",
            "starts_on",
            name=op.f("uq_membership_spells_beneficiary_id_starts_on"),
        ),
    )
    with op.batch_alter_table("membership_spells", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_spells_household_id"), ["household_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("membership_spells", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_spells_household_id"))

    op.drop_table("membership_spells")
    with op.batch_alter_table("household_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_household_events_household_id"))
        batch_op.drop_index(batch_op.f("ix_household_events_beneficiary_id"))

    op.drop_table("household_events")
    with op.batch_alter_table("facility_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_facility_checks_mutual_id"))
        batch_op.drop_index(batch_op.f("ix_facility_checks_checked_on"))

    op.drop_table("facility_checks")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("dated_register")
