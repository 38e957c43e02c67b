"""Issue 16, acceptance 4: the console benchmark runs end to end at a tiny scale on the test's
PostgreSQL server (seed, sign-in of a manager and an admin, every page timed next to its plain
SQL baseline) and prints its table; its kept database is reused by the next run, and a
database it did not seed is refused. PostgreSQL only: the benchmark seeds with PostgreSQL SQL."""

from __future__ import annotations

import os

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import bench_console, scratch
from gateway.db import make_engine
from gateway.services.operators import passwords

PAGES = ("home", "household (busy)", "ussd", "ussd errors", "sms filtered", "members phone")


@pytest.fixture
def admin(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """BENCH_PG_ADMIN_URL on the test's server."""
    url = make_url(database_url).set(database="postgres").render_as_string(hide_password=False)
    monkeypatch.setenv("BENCH_PG_ADMIN_URL", url)
    monkeypatch.delenv("BENCH_DATABASE_URL", raising=False)
    # argon2's defaults cost a second a hash on a loaded machine: not what is measured here
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(passwords, "HASHER", cheap)
    return url


@pytest.mark.postgres
def test_a_tiny_run_prints_the_table_and_a_second_run_reuses_the_seed(
    admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"bench_console_probe_{os.getpid()}"
    with scratch.created(name, scratch.admin_url()) as url:  # dropped at the end
        argv = ["--scale", "0.0002", "--reps", "1", "--warmup", "0", "--database", name]
        assert bench_console.main(argv) == 0
        first = capsys.readouterr().out
        assert "seeded in" in first
        header = next(line for line in first.splitlines() if line.startswith("page"))
        assert "p95 ms" in header and "baseline p95 ms" in header and "ratio" in header
        for page in PAGES:
            assert any(line.startswith(page + " ") for line in first.splitlines()), page
        assert "pages met p95 < 300 ms" in first
        assert bench_console.main([*argv, "--only", "home"]) == 0
        again = capsys.readouterr().out
        assert "reusing the seed" in again and "seeded in" not in again
        assert "of 2 pages met" in again  # the home page, for the manager and the admin
        assert _screens_off(url) == 0
        # a seed kept from before the notifications kept their last screen: filled once
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE ussd_session_events SET last_screen = NULL"))
            conn.execute(text("DELETE FROM bench_console_steps WHERE step = 'last screens'"))
        engine.dispose()
        assert bench_console.main([*argv, "--only", "home"]) == 0
        assert "seeded last screens" in capsys.readouterr().out
        assert _screens_off(url) == 0


def _screens_off(url: str) -> int:
    """Seeded notifications whose last_screen is not their session's last hop's screen."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM ussd_session_events")) > 0
            found = conn.scalar(
                text(
                    "SELECT count(*) FROM ussd_session_events e WHERE last_screen IS DISTINCT "
                    "FROM (SELECT h.screen FROM ussd_hops h WHERE h.session_id = e.session_id "
                    "AND h.provider = e.provider ORDER BY h.id DESC LIMIT 1)"
                )
            )
    finally:
        engine.dispose()
    return int(found)


@pytest.mark.postgres
def test_a_database_it_did_not_seed_is_refused(admin: str) -> None:
    name = f"bench_console_other_{os.getpid()}"
    with scratch.created(name, scratch.admin_url()) as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n INTEGER)"))
        engine.dispose()
        with pytest.raises(SystemExit, match="no seed of this benchmark"):
            bench_console.main(["--scale", "0.0002", "--database", name])


def test_bad_arguments_are_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--scale", "0"], ["--reps", "0"], ["--warmup", "-1"], ["--database", "postgres"]):
        with pytest.raises(SystemExit):
            bench_console.main(argv)
        assert "error:" in capsys.readouterr().err
