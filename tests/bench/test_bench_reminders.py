"""Issue 19, acceptance 4: the reminders benchmark's bulk seed writes the register its
docstring says (households of 1 to 4 beneficiaries, one primary phone each, 1 in 50 opted
out, none paid), on SQLite and PostgreSQL alike, and its due list finds every household that
did not opt out."""

from __future__ import annotations

from sqlalchemy import text

from bench import bench_reminders
from gateway.db import make_engine, make_session_factory

HOUSEHOLDS = 500


def test_the_seed_is_the_documented_register_and_every_consenting_household_is_due(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        bench_reminders.populate(engine, HOUSEHOLDS)
        with engine.connect() as conn:
            ids = list(conn.scalars(text("SELECT id FROM households ORDER BY id")))
            sizes: dict[int, int] = dict(
                conn.execute(
                    text("SELECT household_id, count(*) FROM beneficiaries GROUP BY household_id")
                ).all()
            )
            heads = conn.scalar(
                text("SELECT count(*) FROM beneficiaries WHERE relationship = 'head'")
            )
            phones = conn.scalar(text("SELECT count(*) FROM household_phones WHERE is_primary"))
            opted_out = conn.scalar(
                text("SELECT count(*) FROM households WHERE NOT reminders_enabled")
            )
            paid = conn.scalar(text("SELECT count(*) FROM allocations"))
        assert len(ids) == HOUSEHOLDS
        assert sizes == {hid: 1 + hid % 4 for hid in ids}
        assert heads == phones == HOUSEHOLDS and paid == 0
        assert opted_out == HOUSEHOLDS // 50
        assert bench_reminders.due_list(make_session_factory(engine)) == HOUSEHOLDS - opted_out
    finally:
        engine.dispose()
