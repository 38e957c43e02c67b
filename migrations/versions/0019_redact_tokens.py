"""redact tokens: no callback token left in stored rows (issue 15, point 7)

Rows written before the gateway stopped storing it keep the callback token
(GATEWAY_USSD_TOKEN) in `payment_callbacks.query` and `sandbox_requests.notify_url`: remove
the parameter, keeping the others. The sandbox adds the token back when it sends a callback,
so a pending sandbox request still reaches the gateway. Data only; the downgrade cannot
restore what was removed and does nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:30:00
"""

from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = "token"


def _query_without_token(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != TOKEN])


def _url_without_token(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=_query_without_token(parts.query)))


def _redact(table: str, column: str, clean: Callable[[str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE :pattern"),
        {"pattern": f"%{TOKEN}=%"},
    ).all()
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
    for row_id, value in rows:
        cleaned = clean(value)
        if cleaned != value:
            conn.execute(update, {"id": row_id, "value": cleaned})


def upgrade() -> None:
    _redact("payment_callbacks", "query", _query_without_token)
    _redact("sandbox_requests", "notify_url", _url_without_token)


def downgrade() -> None:
    pass
