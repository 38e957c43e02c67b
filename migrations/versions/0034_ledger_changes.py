"""ledger changes: what the recent-ledger audit re-checks (issue 19)

`ledger_changes` records, by trigger, every UPDATE or DELETE of a ledger entry or transaction
and every UPDATE or DELETE of an account; `ledger_audit_marks` keeps how far the recent audit
has gone. On PostgreSQL the triggers are ENABLE ALWAYS, so that they fire in replica mode too,
where the append-only triggers (0002) are skipped.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = sa.DateTime(timezone=True)
# (table, the OLD/NEW column naming its transaction, the one naming its account)
WATCHED = (
    ("ledger_entries", "transaction_id", "account_id"),
    ("ledger_transactions", "id", None),
    ("ledger_accounts", None, "id"),
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ledger_record_change() RETURNS trigger AS $$
BEGIN
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        INSERT INTO ledger_changes (table_name, operation, transaction_id, account_id)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.transaction_id, OLD.account_id);
        IF TG_OP = 'UPDATE' THEN
            INSERT INTO ledger_changes (table_name, operation, transaction_id, account_id)
            VALUES (TG_TABLE_NAME, TG_OP, NEW.transaction_id, NEW.account_id);
        END IF;
    ELSIF TG_TABLE_NAME = 'ledger_transactions' THEN
        INSERT INTO ledger_changes (table_name, operation, transaction_id)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.id);
    ELSE
        INSERT INTO ledger_changes (table_name, operation, account_id)
        VALUES (TG_TABLE_NAME, TG_OP, OLD.id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""


def _sqlite_values(table: str, op_name: str, row: str, txn: str | None, acct: str | None) -> str:
    txn_sql = f"{row}.{txn}" if txn else "NULL"
    acct_sql = f"{row}.{acct}" if acct else "NULL"
    return (
        "INSERT INTO ledger_changes (table_name, operation, transaction_id, account_id) "
        f"VALUES ('{table}', '{op_name}', {txn_sql}, {acct_sql});"
    )


def upgrade() -> None:
    op.create_table(
        "ledger_changes",
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=8), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_changes")),
    )
    op.create_table(
        "ledger_audit_marks",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("audited_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_audit_marks")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table, _, _ in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_changes AFTER UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_record_change()"
            )
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_changes")
        return
    for table, txn, acct in WATCHED:
        for action in ("UPDATE", "DELETE"):
            body = _sqlite_values(table, action, "OLD", txn, acct)
            if action == "UPDATE" and table == "ledger_entries":
                body += " " + _sqlite_values(table, action, "NEW", txn, acct)
            op.execute(
                f"CREATE TRIGGER {table}_changes_{action.lower()} AFTER {action} ON {table} "
                f"BEGIN {body} END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _, _ in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changes ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_record_change()")
    else:
        for table, _, _ in WATCHED:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_changes_{action}")
    op.drop_table("ledger_audit_marks")
    op.drop_table("ledger_changes")
