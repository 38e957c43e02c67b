"""gateway.db (issue 15, point 7): a database error, and the log line or traceback carrying
it, never shows the statement's parameters (phones, names, provider payloads)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.db import make_engine

PHONE = "+22670123412"


def test_database_errors_hide_their_parameters(
    engine: Engine, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("gateway.test")
    with pytest.raises(SQLAlchemyError) as caught, engine.connect() as conn:
        try:
            conn.execute(text("SELECT msisdn FROM no_such_table WHERE msisdn = :p"), {"p": PHONE})
        except SQLAlchemyError:
            log.exception("query failed")
            raise
    assert PHONE not in str(caught.value)
    assert "parameters hidden" in str(caught.value)
    assert caplog.records and all(PHONE not in r.getMessage() for r in caplog.records)
    assert all(PHONE not in (r.exc_text or "") for r in caplog.records)
    shown = make_engine(database_url, hide_parameters=False)  # the caller may still opt out
    try:
        with pytest.raises(SQLAlchemyError, match=r"\+22670123412"), shown.connect() as conn:
            conn.execute(text("SELECT msisdn FROM no_such_table WHERE msisdn = :p"), {"p": PHONE})
    finally:
        shown.dispose()
