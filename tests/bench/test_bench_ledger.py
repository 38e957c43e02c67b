"""bench/bench_ledger (issue 19, acceptance 5) at a tiny size: it seeds a clean ledger in a
database of its own, times the recent audit of the last day next to its plain SQL baseline,
finds an old entry edited behind the triggers, and drops its database."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import bench_ledger
from gateway.db import make_engine


@pytest.mark.postgres
def test_the_ledger_bench_runs_on_its_own_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    monkeypatch.setenv("BENCH_PG_ADMIN_URL", admin)
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    assert (
        bench_ledger.main(["--entries", "4000", "--days", "20", "--mutuals", "3", "--rounds", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "one day: 101 transactions (202 entries) after #1,899" in out
    assert "recent audit   median" in out and "ratio" in out
    assert "an old entry edited behind the triggers: found" in out
    engine = make_engine(admin)
    try:
        with engine.connect() as conn:
            name = f"bench_ledger_{os.getpid()}"
            query = text("SELECT 1 FROM pg_database WHERE datname = :n")
            assert conn.scalar(query, {"n": name}) is None
    finally:
        engine.dispose()
