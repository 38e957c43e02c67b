"""The lean hop (issue 19): the audit row is written after the hop's commit, with a latency
that includes it, in one statement that does not wait for the disk (PostgreSQL); no ping of
its checkouts (other requests keep theirs), and a pooled connection that PostgreSQL dropped
is replaced by one retry of the hop, the member seeing the screen, not the apology."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import UssdHop
from tests.support import dialogue
from tests.support.dialogue import SERVICE_CODE, Phone
from tests.support.factories import make_household, make_mutual

MEMBER = "+22670123412"
ussd_app, client = dialogue.ussd_app, dialogue.client
on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL's connections and commit settings",
)


def member(db: Session) -> None:
    mutual = make_mutual(db, "LEAN")
    mutual.service_codes = [SERVICE_CODE]
    make_household(db, mutual, phone=MEMBER)
    db.commit()


def statements(app: Flask) -> list[str]:
    """Every statement the app's engine sends from now on (a list that grows)."""
    seen: list[str] = []
    engine = app.extensions["gateway"].engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_each_hop_is_audited_after_its_commit(
    db: Session, client: FlaskClient, ussd_app: Flask, session_factory: sessionmaker[Session]
) -> None:
    member(db)
    phone = Phone(client, MEMBER)
    seen = statements(ussd_app)
    first = phone.dial()
    assert first.con
    phone.send("1")
    with session_factory() as session:
        rows = session.scalars(select(UssdHop).order_by(UssdHop.id)).all()
    assert len(rows) == 2 and all(r.latency_ms >= 0 for r in rows)
    audits = [s for s in seen if "INSERT INTO ussd_hops" in s]
    assert len(audits) == 2


@on_postgres
def test_the_audit_statement_relaxes_its_own_commit_only(
    db: Session, client: FlaskClient, ussd_app: Flask
) -> None:
    """One autocommit INSERT that sets synchronous_commit off for itself: the setting does
    not outlive it on the pooled connection."""
    member(db)
    seen = statements(ussd_app)
    Phone(client, MEMBER).dial()
    audit = [s for s in seen if "ussd_hops" in s and "INSERT" in s.upper()]
    assert len(audit) == 1 and "set_config" in audit[0]
    engine = ussd_app.extensions["gateway"].engine
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW synchronous_commit")) == "on"


@on_postgres
def test_a_dropped_connection_costs_one_retry_not_an_apology(
    db: Session, client: FlaskClient, ussd_app: Flask, session_factory: sessionmaker[Session]
) -> None:
    member(db)
    phone = Phone(client, MEMBER)
    assert phone.dial().con  # the app's pool now holds a connection
    engine = ussd_app.extensions["gateway"].engine
    with engine.connect() as conn:  # the pooled connection: its backend's pid
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    db.commit()
    again = phone.send("1")
    assert again.con, again.text  # the screen, not the apology
    with session_factory() as session:
        assert len(session.scalars(select(UssdHop)).all()) == 2


@on_postgres
def test_a_hop_pings_no_connection_where_other_checkouts_do(
    db: Session, client: FlaskClient, ussd_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: the hop pays no ping per checkout (it retries a dropped connection); a page,
    a callback or a job still has its checkout pinged."""
    member(db)
    engine = ussd_app.extensions["gateway"].engine
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return bool(real_ping(dbapi_conn))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    phone = Phone(client, MEMBER)
    assert phone.dial().con and phone.send("1").con
    assert pings == []
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT 1")) == 1
    assert len(pings) == 1


@on_postgres
def test_a_checkout_outside_the_hop_replaces_a_dropped_connection(
    db: Session, client: FlaskClient, ussd_app: Flask
) -> None:
    """The ping of a checkout finds the connection PostgreSQL dropped and the pool hands a new
    one: the request does not fail once per pooled connection after a restart."""
    member(db)
    assert Phone(client, MEMBER).dial().con
    engine = ussd_app.extensions["gateway"].engine
    with engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    db.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    db.commit()
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid
