"""CSV exports (console.md: "CSV exports of any list run as a job (a date range is required), are
written gzipped, and are downloadable by their requester for a limited time; each export is
logged"; issue 17), from the API and from the console's list pages: the job (idempotent,
bounded batches, scope-filtered like the list, phones masked), one running export per
requester and list, downloads for the requester only, 410 once expired, and one
`operator_actions` row per export and per download."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.clock import FixedClock
from gateway.console import export_rows
from gateway.console.exports import STALE_AFTER, job_id
from gateway.console.scope import Scope
from gateway.models import (
    Export,
    ExportState,
    OperatorAction,
    OutboxMessage,
    OutboxStatus,
    Role,
    ScopeKind,
    UssdHop,
)
from gateway.settings import Settings
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, actions, bearer, body, post, signed, token
from tests.support.factories import make_household
from tests.support.redis_url import redis_url_of
from worker import jobs
from worker.jobs.exports import LOST_AFTER, export_csv, sweep_exports

PHONE = "+22670123412"
RANGE = {"from": "2026-03-01", "to": "2026-03-02"}


@pytest.fixture
def run_jobs(database_url: str, tmp_path: Path, console_clock: FixedClock) -> Iterator[None]:
    """The worker's context on the app's database and var directory (same exports folder)."""
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "GATEWAY_VAR_DIR": str(tmp_path / "var")}
    )
    jobs.configure(settings, console_clock)
    yield
    jobs.context().close()


def messages(db: Session, two: TwoMutuals, n: int) -> None:
    """`n` SMS of mutual A and one of B, inside RANGE; one of A before it."""
    for mutual, count in ((two.a, n), (two.b, 1)):
        for i in range(count):
            db.add(
                OutboxMessage(
                    mutual_id=mutual.id,
                    phone=PHONE,
                    template="receipt",
                    language="fr",
                    text=f"=cmd {i}" if i == 0 else f"Merci {i}",
                    reason="receipt",
                    created_at=NOW - dt.timedelta(minutes=i),
                )
            )
    db.add(
        OutboxMessage(
            mutual_id=two.a.id,
            phone=PHONE,
            template="receipt",
            language="fr",
            text="old",
            reason="receipt",
            created_at=NOW - dt.timedelta(days=10),
        )
    )


def settings_dir(client: FlaskClient) -> Path:
    app = client.application
    return Path(app.extensions["gateway"].settings.exports_dir)


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(gzip.decompress(data).decode())))


def test_an_api_export_runs_as_a_job_and_is_downloaded_once_ready(
    db: Session,
    two: TwoMutuals,
    client: FlaskClient,
    run_jobs: None,
    console_clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export_rows, "BATCH", 2)  # several batches
    messages(db, two, 5)
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    other = token(db, "erp-2", Role.MANAGER, two.scope_a)
    db.commit()
    before = len(actions(db))
    asked = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(secret))
    assert asked.status_code == 202, body(asked)
    export = body(asked)
    assert (export["state"], export["list"], export["from"]) == ("queued", "sms", "2026-03-01")
    again = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(secret))
    assert again.status_code == 409 and "already running" in body(again)["reason"]
    url = f"/api/v1/exports/{export['id']}"
    assert client.get(f"{url}/download", headers=bearer(secret)).status_code == 409  # not ready
    assert export_csv(str(export["id"])) == 5
    assert export_csv(str(export["id"])) == 0  # idempotent: done stays done
    status = body(client.get(url, headers=bearer(secret)))
    assert (status["state"], status["rows"]) == ("done", 5)
    assert client.get(url, headers=bearer(other)).status_code == 404
    assert client.get(f"{url}/download", headers=bearer(other)).status_code == 404
    got = client.get(f"{url}/download", headers=bearer(secret))
    assert got.status_code == 200 and got.mimetype == "application/gzip"
    table = read_csv(got.data)
    got.close()  # the file is streamed from disk
    assert table[0][:4] == ["id", "mutual_id", "household_id", "phone"]
    assert len(table) == 6 and {row[1] for row in table[1:]} == {str(two.a.id)}
    assert {row[3] for row in table[1:]} == {"+22670****12"}
    assert PHONE not in gzip.decompress(got.data).decode()
    added = actions(db)[before:]
    assert [a.action for a in added] == ["export.request", "export.download"]
    assert added[0].after and added[0].after["list"] == "sms"
    console_clock.advance(hours=25)
    gone = client.get(f"{url}/download", headers=bearer(secret))
    assert gone.status_code == 410 and "expired" in body(gone)["reason"]
    assert len(actions(db)) == before + 2
    # Finished: a new export of the same list may be asked; its job deletes the expired file.
    new = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(secret))
    assert new.status_code == 202
    old_file = settings_dir(client) / f"export-{export['id']}.csv.gz"
    assert old_file.exists()
    export_csv(str(body(new)["id"]))
    assert not old_file.exists()
    assert db.get_one(Export, export["id"]).file_name is None
    db.rollback()


def test_bad_export_requests_are_refused_clearly(
    db: Session, two: TwoMutuals, client: FlaskClient
) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    viewer = token(db, "board", Role.VIEWER, two.scope_a)
    db.commit()
    cases = [
        ({"list": "sms"}, 400, "from is required"),
        ({"list": "sms", "from": "2026-03-01"}, 400, "to is required"),
        ({"list": "nope", **RANGE}, 400, "list is one of"),
        ({"list": "sms", "from": "2026-03-02", "to": "2026-03-01"}, 400, "ends before"),
        ({"list": "sms", "from": "2020-01-01", "to": "2026-01-01"}, 400, "at most"),
        ({"list": "sms", "from": "March", "to": "2026-03-01"}, 400, "ISO 8601"),
        ({"list": "sms", "mutual": "MB", **RANGE}, 404, "MB"),
        ({"list": "sms", "errors": "yes", **RANGE}, 400, "true or false"),
    ]
    for payload, code, reason in cases:
        reply = client.post("/api/v1/exports", json=payload, headers=bearer(secret))
        assert reply.status_code == code and reason in body(reply)["reason"], payload
    refused = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(viewer))
    assert refused.status_code == 403
    assert db.scalars(select(Export)).first() is None
    db.rollback()


def test_every_list_exports_inside_the_scope_only(
    db: Session, two: TwoMutuals, client: FlaskClient, run_jobs: None
) -> None:
    home_a, home_b = make_household(db, two.a), make_household(db, two.b)
    messages(db, two, 2)
    for mutual, session_id in ((two.a, "sa"), (two.b, "sb")):
        db.add(
            UssdHop(
                provider="at",
                session_id=session_id,
                phone_masked="+22670****12",
                service_code="*123#",
                screen="menu",
                input_masked="1",
                reply="CON",
                latency_ms=5,
                created_at=NOW,
                mutual_id=mutual.id,
            )
        )
    db.add(
        OperatorAction(
            occurred_at=NOW, action="x.y", object_type="t", object_id="1", mutual_id=two.b.id
        )
    )
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    # audit: the token's creation and these exports (mutual A), never B's action.
    expected = {"sms": 3, "payments": 0, "ussd": 1, "audit": None, "members": 1}
    wide = {"from": "2025-12-01", "to": "2026-03-02"}
    for name, count in expected.items():
        reply = client.post("/api/v1/exports", json={"list": name, **wide}, headers=bearer(secret))
        assert reply.status_code == 202, body(reply)
        export_id = body(reply)["id"]
        written = export_csv(str(export_id))
        assert written == count or count is None, name
        got = client.get(f"/api/v1/exports/{export_id}/download", headers=bearer(secret))
        table = read_csv(got.data)
        got.close()
        assert table[0] == list(export_rows.header(name)) and len(table) == written + 1
        if name == "audit":
            assert written and {row[7] for row in table[1:]} == {str(two.a.id)}
    assert home_a.id != home_b.id


def test_a_stale_export_does_not_block_for_ever(
    db: Session, two: TwoMutuals, client: FlaskClient, console_clock: FixedClock
) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    first = client.post("/api/v1/exports", json={"list": "audit", **RANGE}, headers=bearer(secret))
    assert first.status_code == 202
    console_clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    second = client.post("/api/v1/exports", json={"list": "audit", **RANGE}, headers=bearer(secret))
    assert second.status_code == 202
    stale = db.get_one(Export, body(first)["id"])
    assert (stale.state, stale.error) == (ExportState.FAILED, "never finished")
    db.rollback()


def test_a_failed_job_frees_the_slot(
    db: Session,
    two: TwoMutuals,
    client: FlaskClient,
    run_jobs: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    asked = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(secret))

    def broken(*_: object) -> Iterator[list[object]]:
        raise OSError("disk full")

    monkeypatch.setattr(export_rows, "keyset_batches", broken)
    with pytest.raises(OSError, match="disk full"):
        export_csv(str(body(asked)["id"]))  # outside RQ: the last attempt
    row = db.get_one(Export, body(asked)["id"])
    assert (row.state, row.error) == (ExportState.FAILED, "OSError: disk full")
    db.rollback()
    assert export_csv(str(body(asked)["id"])) == 0  # a failed export is left alone
    assert export_csv("999999") == 0


def test_the_console_button_exports_for_its_requester_only(
    db: Session,
    two: TwoMutuals,
    console_app: Flask,
    run_jobs: None,
    console_clock: FixedClock,
) -> None:
    messages(db, two, 3)
    db.commit()
    manager = signed(console_app, db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    other = signed(console_app, db, "autre@ma.bf", Role.MANAGER, two.scope_a)
    viewer = signed(console_app, db, "vue@ma.bf", Role.VIEWER, two.scope_a)
    page = manager.get("/console/sms").get_data(as_text=True)
    assert 'id="export-sms"' in page and 'name="date_from"' in page
    assert 'id="export-sms"' not in viewer.get("/console/sms").get_data(as_text=True)
    for listed in ("payments", "ussd", "audit", "members"):
        html = manager.get(f"/console/{listed}").get_data(as_text=True)
        assert f'id="export-{listed}"' in html, listed
    before = len(actions(db))
    form = {"list_name": "sms", "date_from": "2026-03-01", "date_to": "2026-03-02"}
    shown = post(manager, "/console/exports/new", form, follow=True).get_data(as_text=True)
    assert "queued" in shown
    refused = post(manager, "/console/exports/new", form, follow=True).get_data(as_text=True)
    assert "already running" in refused
    missing = post(manager, "/console/exports/new", {"list_name": "sms"}, follow=True)
    assert "needs a date range" in missing.get_data(as_text=True)
    export_id = db.scalars(select(Export.id)).one()
    db.rollback()
    assert export_csv(str(export_id)) == 3
    link = f"/console/exports/{export_id}/download"
    assert link in manager.get("/console/exports").get_data(as_text=True)
    got = manager.get(link)
    assert got.status_code == 200 and len(read_csv(got.data)) == 4
    got.close()
    assert other.get(link).status_code == 404
    assert viewer.get(link).status_code == 403
    assert [a.action for a in actions(db)[before:]] == ["export.request", "export.download"]
    console_clock.advance(hours=24)
    gone = manager.get(link)
    assert gone.status_code == 410 and "has expired" in gone.get_data(as_text=True)
    outside = dict(form, mutual=str(two.b.id), list_name="audit")
    assert post(manager, "/console/exports/new", outside).status_code == 404


def test_cells_are_iso_and_never_a_formula() -> None:
    cell = export_rows.cell
    assert [cell(None), cell(-500), cell(dt.date(2026, 3, 1))] == ["", "-500", "2026-03-01"]
    assert [cell("+22670****12"), cell("=HYPERLINK(1)"), cell("@x"), cell("-1+2")] == [
        "+22670****12",
        "'=HYPERLINK(1)",
        "'@x",
        "'-1+2",
    ]


def test_the_lists_filters_apply_to_their_exports(db: Session, two: TwoMutuals) -> None:
    """The page's filters travel with the export: mutual, status, errors only."""
    messages(db, two, 3)
    failed = db.scalars(select(OutboxMessage).where(OutboxMessage.mutual_id == two.a.id)).first()
    assert failed is not None
    failed.status, failed.last_error = OutboxStatus.FAILED, "rejected"
    db.flush()
    everything = Scope(ScopeKind.ALL)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=2)

    def count(name: str, **filters: object) -> int:
        window = export_rows.Window(
            start,
            end,
            mutual_id=filters.get("mutual_id"),  # type: ignore[arg-type]
            status=str(filters.get("status", "")),
            errors=bool(filters.get("errors")),
        )
        return len(list(export_rows.rows(db, name, everything, window)))

    assert count("sms") == 4 and count("sms", mutual_id=two.b.id) == 1
    assert count("sms", status="FAILED") == 1 and count("sms", errors=True) == 1
    assert count("payments", mutual_id=two.a.id, status="CREATED", errors=True) == 0
    assert count("audit", mutual_id=two.a.id) == 0
    assert count("members", mutual_id=two.a.id, status="active") == 0
    assert count("ussd", status="Failed", errors=True, mutual_id=two.a.id) == 0
    db.rollback()


def test_the_sweeper_enqueues_an_export_whose_enqueue_was_lost(
    db: Session,
    two: TwoMutuals,
    client: FlaskClient,
    database_url: str,
    redis_client: redis.Redis[bytes],
    tmp_path: Path,
    console_clock: FixedClock,
) -> None:
    """Redis lost the job between the request's commit and the worker (architecture.md: each
    job's sweeper re-enqueues from the database): the export is enqueued again after
    LOST_AFTER, once, and one still young, or finished, is left alone."""
    secret = token(db, "erp", Role.MANAGER, two.scope_a)
    db.commit()
    asked = client.post("/api/v1/exports", json={"list": "sms", **RANGE}, headers=bearer(secret))
    assert asked.status_code == 202
    export_id = body(asked)["id"]
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url_of(redis_client),
            "GATEWAY_VAR_DIR": str(tmp_path / "var"),
        }
    )
    jobs.configure(settings, console_clock)
    try:
        redis_client.flushdb()  # the enqueue is lost
        assert sweep_exports() == 0  # too young: its enqueue may still be on its way
        console_clock.advance(seconds=LOST_AFTER.total_seconds() + 1)
        assert sweep_exports() == 1
        job = Job.fetch(job_id(export_id), connection=redis_client)
        assert job.args == (str(export_id),) and job.get_status() == "queued"
        assert sweep_exports() == 0  # waiting already: not enqueued twice
        assert export_csv(str(export_id)) == 0  # nothing in range, and done
        redis_client.flushdb()
        assert sweep_exports() == 0  # finished: nothing to sweep
        assert db.get_one(Export, export_id).state == ExportState.DONE
    finally:
        jobs.context().close()
        db.rollback()
