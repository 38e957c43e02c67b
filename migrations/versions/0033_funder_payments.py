"""funder payments and levy remittances: what is paid against D25's statements (issue 17)

`funder_payments` records a funder's payment against its statement for a period (Dr bank /
Cr receivable), `levy_remittances` the mutual's remittance of a levy for a period (Dr levy /
Cr bank); each keeps its reference (unique per funder, per levy) and its ledger key.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("ledger_key", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "funder_payments",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("funder_id", sa.Integer(), nullable=False),
        *_columns(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_funder_payments_amount")),
        sa.ForeignKeyConstraint(
            ["funder_id"], ["funders.id"], name=op.f("fk_funder_payments_funder_id_funders")
        ),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_funder_payments_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funder_payments")),
        sa.UniqueConstraint(
            "funder_id", "reference", name=op.f("uq_funder_payments_funder_id_reference")
        ),
    )
    op.create_index(op.f("ix_funder_payments_funder_id"), "funder_payments", ["funder_id"])
    op.create_index(op.f("ix_funder_payments_mutual_id"), "funder_payments", ["mutual_id"])
    op.create_table(
        "levy_remittances",
        sa.Column("mutual_id", sa.Integer(), nullable=False),
        sa.Column("levy", sa.String(length=64), nullable=False),
        *_columns(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_levy_remittances_amount")),
        sa.ForeignKeyConstraint(
            ["mutual_id"], ["mutuals.id"], name=op.f("fk_levy_remittances_mutual_id_mutuals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_levy_remittances")),
        sa.UniqueConstraint(
            "mutual_id",
            "levy",
            "reference",
            name=op.f("uq_levy_remittances_mutual_id_levy_reference"),
        ),
    )
    op.create_index(op.f("ix_levy_remittances_mutual_id"), "levy_remittances", ["mutual_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_levy_remittances_mutual_id"), table_name="levy_remittances")
    op.drop_table("levy_remittances")
    op.drop_index(op.f("ix_funder_payments_mutual_id"), table_name="funder_payments")
    op.drop_index(op.f("ix_funder_payments_funder_id"), table_name="funder_payments")
    op.drop_table("funder_payments")
