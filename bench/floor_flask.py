"""The FLOOR of the USSD benchmark (issue 19): the least a real hop must do, through Flask on
the same gunicorn: the session's Redis lock and state, one PostgreSQL read (the caller's
phone) and one audit append, then `CON hello`. The gateway's distance from it is what its own
dialogue, rules and screens cost; its distance from `bench/hello_flask.py` is what the two
stores cost at the least.

    DATABASE_URL=... REDIS_URL=... gunicorn 'bench.floor_flask:app'"""

from __future__ import annotations

import os
import uuid

import redis
from flask import Flask, Response, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
_engine = create_engine(
    os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
)
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])
READ = text("SELECT household_id FROM household_phones WHERE msisdn = :phone LIMIT 1")
AUDIT = text(
    "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "INSERT INTO ussd_hops (provider, session_id, phone_masked, service_code, screen, "
    "input_masked, reply, latency_ms, created_at) "
    "SELECT 'floor', :session, '', '*144*7#', 'hello', '', 'CON hello', 0, now() FROM relaxed"
)


@app.post("/ussd/africastalking")
def floor() -> Response:
    form = request.form
    key = f"floor:{form.get('sessionId', '')}"
    token = uuid.uuid4().hex
    if not _redis.set(key + ":lock", token, nx=True, px=5000):
        return Response("END busy", content_type="text/plain; charset=utf-8")
    try:
        _redis.get(key)
        with _engine.begin() as conn:
            conn.execute(READ, {"phone": form.get("phoneNumber", "")}).first()
        _redis.set(key, form.get("text", ""), ex=300)
        with _engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(AUDIT, {"session": form.get("sessionId", "")[:64]})
    finally:
        if _redis.get(key + ":lock") == token.encode():
            _redis.delete(key + ":lock")
    return Response("CON hello", content_type="text/plain; charset=utf-8")
