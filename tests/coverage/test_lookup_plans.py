"""`gateway eligibility NUMBER` without `--mutual` (issue 19): finding a household or a
beneficiary by its number across mutuals is an index lookup, never a sequential scan (the
unique keys lead with mutual_id). Sequential scans are disabled for the EXPLAIN, so that a
missing index shows as one whatever the size of the test's tables."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from gateway.services.coverage import find_number
from tests.support.factories import make_household, make_mutual

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL's query plans",
)


@pytest.mark.parametrize("number", ["H-77", "1234"])  # as typed; then by digits (keypad)
def test_a_number_without_its_mutual_is_found_through_indexes(db: Session, number: str) -> None:
    for code in ("A", "B"):
        make_household(db, make_mutual(db, f"PLAN{code}"), members=2)
    db.commit()
    sent: list[tuple[str, Any]] = []
    bind = db.get_bind()

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", note)
    try:
        assert find_number(db, number) is None
    finally:
        event.remove(bind, "before_cursor_execute", note)
    lookups = [(s, p) for s, p in sent if "FROM households" in s or "FROM beneficiaries" in s]
    assert len(lookups) >= 2
    connection = db.connection()
    connection.execute(text("SET LOCAL enable_seqscan = off"))
    for statement, parameters in lookups:
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )
        assert "Seq Scan" not in plan, plan
        assert "Index" in plan, plan
    db.rollback()
