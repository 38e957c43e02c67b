"""The console benchmark's data (issue 16, acceptance 4): mutuals with sections and households
(three beneficiaries and one phone each), USSD hops grouped in sessions of four with their
end-of-session notifications, SMS with their delivery outcome, payment intents with their
provider events and, for the succeeded ones, the payment and its two ledger postings, as the
real flows write them. Everything is written by `INSERT ... SELECT generate_series` (the keyed
phone hashes, which need the app's secret, are computed here and COPYed), in steps of at most
a million rows, each its own transaction recorded in `bench_console_steps`: an interrupted seed
resumes at the first step not done, and a complete one is reused as it is.

One household (id 1, mutual 1) is the busy one: every 500th session, SMS and intent is its."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from gateway.lib.phones import phone_key
from gateway.models import Mutual, Product, Section

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)  # the bench app's fixed clock
SECRET = "bench-console-secret-key-0123456789abcdef"  # the app's, hence the phones' keys
BUSY = 1  # the busy household's id (and number F0000001 of mutual 1)
BUSY_EVERY = 500
SECTIONS = 5
HOPS_PER_SESSION = 4
CHUNK = 1_000_000
STEPS = "bench_console_steps"
PHONES = "bench_console_phones"
INDEXES = "bench_console_indexes"
# A step added after seeds were kept: a complete seed without it is finished by seed() (which
# runs the steps not recorded), then vacuumed (the UPDATEs of 0035 rewrote its rows).
LAST_SCREENS = "last screens"
# The log tables filled in bulk: their plain indexes (not those of a key or unique constraint)
# are dropped for the load and built again at its end, which is several times faster than
# keeping them up to date row by row; their definitions wait in INDEXES meanwhile.
BULK = (
    "ussd_hops", "ussd_session_events", "outbox_messages", "payment_intents", "payments",
    "payment_events", "ledger_transactions", "ledger_entries",
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    """What a seed of `scale` holds (scale 1: the issue's 10 M hops, 1 M SMS, 1 M intents)."""

    scale: float
    mutuals: int
    households: int
    hops: int
    sms: int
    intents: int
    days: int

    @classmethod
    def of(cls, scale: float, days: int = 90) -> Size:
        return cls(
            scale=scale,
            mutuals=max(2, min(100, round(1000 * scale))),
            households=max(20, round(200_000 * scale)),
            hops=max(HOPS_PER_SESSION * 10, round(10_000_000 * scale) // 4 * 4),
            sms=max(10, round(1_000_000 * scale)),
            intents=max(10, round(1_000_000 * scale)),
            days=days,
        )

    def label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in asdict(self).items())


def seeded(engine: Engine) -> str | None:
    """The label of the complete seed this database holds, None if none (or unfinished)."""
    with engine.connect() as conn:
        if conn.scalar(text(f"SELECT to_regclass('{STEPS}')")) is None:
            return None
        label = conn.scalar(text(f"SELECT label FROM {STEPS} WHERE step = 'complete'"))
        later = conn.scalar(text(f"SELECT 1 FROM {STEPS} WHERE step = :s"), {"s": LAST_SCREENS})
    return str(label) if label is not None and later else None


def seed(engine: Engine, size: Size, say: Callable[[str], None] = print) -> float:
    """Seed (or finish seeding) `engine`'s migrated database; the seconds it took."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(f"CREATE TABLE IF NOT EXISTS {STEPS} (step TEXT PRIMARY KEY, label TEXT)")
        )
        other = conn.scalar(text(f"SELECT label FROM {STEPS} WHERE step = 'size'"))
        if other is not None and other != size.label():
            raise SystemExit(f"this database holds another seed ({other}); use another name")
        conn.execute(
            text(f"INSERT INTO {STEPS} VALUES ('size', :l) ON CONFLICT DO NOTHING"),
            {"l": size.label()},
        )
    done = []
    for name, step in _steps(size):
        with engine.begin() as conn:
            if conn.scalar(text(f"SELECT 1 FROM {STEPS} WHERE step = :s"), {"s": name}):
                continue
            t0 = time.perf_counter()
            step(conn)
            conn.execute(text(f"INSERT INTO {STEPS} (step) VALUES (:s)"), {"s": name})
        done.append(name)
        say(f"  seeded {name} in {time.perf_counter() - t0:.1f} s")
    _finish(engine, size, done)
    return time.perf_counter() - started


def _steps(size: Size) -> list[tuple[str, Callable[[Connection], None]]]:
    steps: list[tuple[str, Callable[[Connection], None]]] = [
        ("mutuals", lambda c: _mutuals(c, size)),
        ("households", lambda c: _households(c, size)),
        ("phones", lambda c: _phones(c, size)),
        ("indexes dropped", _drop_indexes),
    ]
    sessions = size.hops // HOPS_PER_SESSION
    for name, count, per, fill in (
        ("hops", sessions, CHUNK // HOPS_PER_SESSION, _hops),
        ("sms", size.sms, CHUNK, _sms),
        ("intents", size.intents, CHUNK, _intents),
    ):
        for i in range(math.ceil(count / per)):
            lo, hi = i * per + 1, min(count, (i + 1) * per)
            steps.append((f"{name} {lo}-{hi}", partial(fill, size=size, lo=lo, hi=hi)))
    steps.append(("indexes built", _build_indexes))
    steps.append((LAST_SCREENS, _last_screens))
    return steps


def _last_screens(conn: Connection) -> None:
    """The notifications seeded before they kept their session's last screen (migration 0035
    fills them when it runs, this step when the seed was interrupted around it): the screen
    of the session's last hop, by one UPDATE on the session index. Idempotent."""
    conn.execute(
        text(
            "UPDATE ussd_session_events e SET last_screen = (SELECT h.screen FROM ussd_hops h "
            " WHERE h.session_id = e.session_id AND h.provider = e.provider "
            " ORDER BY h.id DESC LIMIT 1) "
            "WHERE e.last_screen IS NULL"
        )
    )


def _drop_indexes(conn: Connection) -> None:
    conn.execute(text(f"CREATE TABLE {INDEXES} (name TEXT PRIMARY KEY, definition TEXT)"))
    rows = conn.execute(
        text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(CAST(:tables AS regclass[])) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        {"tables": list(BULK)},
    ).all()
    for name, definition in rows:
        conn.execute(text(f"INSERT INTO {INDEXES} VALUES (:n, :d)"), {"n": name, "d": definition})
        conn.execute(text(f'DROP INDEX "{name}"'))


def _build_indexes(conn: Connection) -> None:
    conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for (definition,) in conn.execute(text(f"SELECT definition FROM {INDEXES}")).all():
        conn.execute(text(definition))
    conn.execute(text(f"DROP TABLE {INDEXES}"))


def _mutuals(conn: Connection, size: Size) -> None:
    """The small tables through the models (their defaults), in id order."""
    db = Session(bind=conn)
    for m in range(1, size.mutuals + 1):
        mutual = Mutual(id=m, code=f"BM{m:03d}", name=f"Mutuelle {m}", country="BF")
        db.add(mutual)
        db.flush()
        db.add(Product(mutual_id=m, code="AMU", name="Garantie de base", contribution=7000))
        for s in range(SECTIONS):
            db.add(Section(id=(m - 1) * SECTIONS + s + 1, mutual_id=m, name=f"Section {s + 1}"))
    db.flush()
    conn.execute(
        text(
            "INSERT INTO ledger_accounts (id, mutual_id, name, kind, created_at) "
            "SELECT m, m, 'asset:mobile_money', 'asset', :now "
            "FROM generate_series(1, CAST(:n AS bigint)) m"
        ),
        {"n": size.mutuals, "now": NOW},
    )


_FIRST = "Aminata Awa Fatimata Mariam Salif Issa Boukary Adama Rasmata Alimata Moussa Ousmane "
_FIRST += "Habibou Safiatou Karim Abdoulaye Zenabo Hamidou Sali Boureima"
_LAST = "OUEDRAOGO SAWADOGO KABORE COMPAORE ZONGO TRAORE OUATTARA SANOU SOME KONATE ILBOUDO "
_LAST += "NIKIEMA ZOUNGRANA TIENDREBEOGO BELEM YAMEOGO KINDA TAPSOBA ZERBO DIALLO BARRY SIDIBE "
_LAST += "KIEMDE BAMOGO ROAMBA GUIRO NANA SIMPORE DABIRE KAFANDO"


def _households(conn: Connection, size: Size) -> None:
    conn.execute(
        text(
            "INSERT INTO households (id, mutual_id, number, digits, category, section_id, "
            " product_id, reminders_enabled, dated_register, created_at) "
            "SELECT i, m, 'F' || lpad(i::text, 7, '0'), lpad(i::text, 7, '0'), 'standard', "
            " (m - 1) * :sections + 1 + i % :sections, p.id, true, false, :now "
            "FROM generate_series(1, CAST(:n AS bigint)) i "
            "CROSS JOIN LATERAL (SELECT 1 + (i - 1) % :m AS m) a "
            "JOIN products p ON p.mutual_id = a.m"
        ),
        {"n": size.households, "m": size.mutuals, "sections": SECTIONS, "now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO beneficiaries (mutual_id, household_id, number, digits, full_name, sex, "
            " relationship, status, enrolled_on) "
            "SELECT h.mutual_id, h.id, h.number || '-' || j, h.digits || j, "
            " (string_to_array(:last, ' '))[1 + (h.id * 7 + j) % 30] || ' ' || "
            " (string_to_array(:first, ' '))[1 + (h.id * 3 + j * 11) % 20], "
            " CASE WHEN j = 2 THEN 'F' ELSE 'M' END, "
            " (ARRAY['head', 'spouse', 'child'])[j], 'active', DATE '2024-01-01' "
            "FROM households h CROSS JOIN generate_series(1, 3) j"
        ),
        {"first": _FIRST, "last": _LAST},
    )


def _phones(conn: Connection, size: Size) -> None:
    """One phone per household (+22670xxxxxx), its liability account, and the table of keyed
    hashes the other steps join on (HMAC with the app's secret: computed here)."""
    conn.execute(
        text(
            "INSERT INTO household_phones (household_id, msisdn, is_primary) "
            "SELECT id, '+22670' || lpad(id::text, 6, '0'), true FROM households"
        )
    )
    conn.execute(
        text(
            "INSERT INTO ledger_accounts (id, mutual_id, name, kind, created_at) "
            "SELECT :m + id, mutual_id, 'liab:household:' || id, 'liab', :now FROM households"
        ),
        {"m": size.mutuals, "now": NOW},
    )
    conn.execute(
        text(
            f"CREATE TABLE {PHONES} (hh INTEGER PRIMARY KEY, mutual_id INTEGER, msisdn TEXT, "
            "masked TEXT, key TEXT)"
        )
    )
    rows = conn.execute(text("SELECT id, mutual_id FROM households ORDER BY id")).all()
    raw = conn.connection.dbapi_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {PHONES} FROM STDIN") as copy:  # type: ignore[attr-defined]
        for hh, mutual in rows:
            msisdn = f"+22670{hh:06d}"
            copy.write_row(
                (hh, mutual, msisdn, f"+22670****{hh % 100:02d}", phone_key(SECRET, msisdn))
            )


def _at(position: str, count: str) -> str:
    """The moment of item `position` of `count`, spread evenly over the days before NOW."""
    return f"(:now - make_interval(secs => :span * ({count} - {position})::float8 / {count}))"


def _household(position: str) -> str:
    busy = f"{position} % {BUSY_EVERY} = 0"
    return f"CASE WHEN {busy} THEN {BUSY} ELSE 1 + ({position} * 7919) % :nh END"


def _params(size: Size, lo: int, hi: int) -> dict[str, object]:
    return {"lo": lo, "hi": hi, "now": NOW, "span": size.days * 86400, "nh": size.households}


def _hops(conn: Connection, size: Size, lo: int, hi: int) -> None:
    """Sessions lo..hi: four hops 10 s apart; 1 in 97 ends on the apology screen; 19 in 20 have
    their end notification (Failed 1 in 33 and the apologies, Incomplete 1 in 8), which keeps
    the last hop's screen as the gateway does (migration 0035)."""
    sessions = size.hops // HOPS_PER_SESSION
    params = {**_params(size, lo, hi), "s": sessions}
    start = _at("s", ":s")
    conn.execute(
        text(
            "INSERT INTO ussd_hops (id, provider, session_id, phone_masked, network, "
            " service_code, screen, input_masked, reply, latency_ms, created_at, mutual_id, "
            " phone_key) "
            "SELECT (s - 1) * 4 + k + 1, 'africastalking', 'ATUid_' || s, p.masked, 'Orange', "
            " '*123#', CASE WHEN k = 3 AND s % 97 = 0 THEN 'apology' "
            "  ELSE (ARRAY['home', 'coverage', 'pay_amount', 'pay_confirm'])[k + 1] END, "
            " CASE WHEN k = 0 THEN '' ELSE '1' END, "
            " 'CON Mutuelle: 1. Couverture 2. Payer 3. Mes paiements 0. Retour', "
            f" 3 + (s + k) % 40, {start} + make_interval(secs => 10 * k), p.mutual_id, p.key "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) s "
            "CROSS JOIN generate_series(0, 3) k "
            f"JOIN {PHONES} p ON p.hh = {_household('s')}"
        ),
        params,
    )
    conn.execute(
        text(
            "INSERT INTO ussd_session_events (id, provider, session_id, phone_masked, network, "
            " service_code, status, ended_at, cost, duration_ms, hops_count, input_masked, "
            " last_app_response, error_message, received_at, mutual_id, phone_key, "
            " last_screen) "
            "SELECT s, 'africastalking', 'ATUid_' || s, p.masked, 'Orange', '*123#', "
            " v.status, t.at + interval '31 seconds', 'XOF 10', 31000, 4, '1*1*1', "
            " 'END Merci', CASE WHEN v.status = 'Failed' THEN 'DeliveryFailure' END, "
            " t.at + interval '35 seconds', p.mutual_id, p.key, "
            " CASE WHEN s % 97 = 0 THEN 'apology' ELSE 'pay_confirm' END "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) s "
            f"CROSS JOIN LATERAL (SELECT {start} AS at) t "
            "CROSS JOIN LATERAL (SELECT CASE WHEN s % 97 = 0 OR s % 33 = 0 THEN 'Failed' "
            "  WHEN s % 8 = 0 THEN 'Incomplete' ELSE 'Success' END AS status) v "
            f"JOIN {PHONES} p ON p.hh = {_household('s')} "
            "WHERE s % 20 <> 0"
        ),
        params,
    )


def _sms(conn: Connection, size: Size, lo: int, hi: int) -> None:
    """85 % delivered, 5 % sent (no report yet), 5 % failed, 1 % rejected, 1 % expired, 1 %
    queued, the rest skipped."""
    conn.execute(
        text(
            "INSERT INTO outbox_messages (id, mutual_id, household_id, phone, template, "
            " language, text, reason, status, provider, provider_message_id, attempts, "
            " last_error, created_at, sent_at, updated_at) "
            "SELECT x, p.mutual_id, p.hh, p.msisdn, "
            " CASE WHEN x % 3 = 0 THEN 'reminder' ELSE 'receipt' END, 'fr', "
            " '[Mutuelle] Paiement recu: 7000 F pour le menage. Couverture jusqu''au 31/12.', "
            " CASE WHEN x % 3 = 0 THEN 'reminder' ELSE 'receipt' END, st.status, "
            " 'africastalking', CASE WHEN st.status NOT IN ('QUEUED', 'SKIPPED') "
            "  THEN 'ATXid_' || x END, 1, "
            " CASE WHEN st.status IN ('FAILED', 'REJECTED', 'EXPIRED') "
            "  THEN 'DeliveryFailure: ' || st.status END, "
            f" {_at('x', ':n')}, {_at('x', ':n')} + interval '2 seconds', "
            f" {_at('x', ':n')} + interval '40 seconds' "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) x "
            "CROSS JOIN LATERAL (SELECT CASE WHEN x % 100 < 85 THEN 'DELIVERED' "
            "  WHEN x % 100 < 90 THEN 'SENT' WHEN x % 100 < 95 THEN 'FAILED' "
            "  WHEN x % 100 < 96 THEN 'REJECTED' WHEN x % 100 < 97 THEN 'EXPIRED' "
            "  WHEN x % 100 < 98 THEN 'QUEUED' ELSE 'SKIPPED' END AS status) st "
            f"JOIN {PHONES} p ON p.hh = {_household('x')}"
        ),
        {**_params(size, lo, hi), "n": size.sms},
    )


def _intents(conn: Connection, size: Size, lo: int, hi: int) -> None:
    """80 % succeeded (event, payment, two postings), 10 % failed and 8 % expired (an
    event), 2 % still pending (none)."""
    params = {**_params(size, lo, hi), "n": size.intents, "accounts": size.mutuals}
    conn.execute(
        text(
            "CREATE TEMP TABLE bench_intent ON COMMIT DROP AS "
            "SELECT y, p.hh, p.mutual_id, p.msisdn, md5('intent' || y)::uuid::text AS ref, "
            " 1000 * (1 + y % 7) AS amount, "
            f" {_at('y', ':n')} AS at, "
            " CASE WHEN y % 100 < 80 THEN 'SUCCEEDED' WHEN y % 100 < 90 THEN 'FAILED' "
            "  WHEN y % 100 < 98 THEN 'EXPIRED' ELSE 'PENDING' END AS state "
            "FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) y "
            f"JOIN {PHONES} p ON p.hh = {_household('y')}"
        ),
        params,
    )
    for statement in _INTENT_ROWS:
        conn.execute(text(statement), params)


_INTENT_ROWS = (
    "INSERT INTO payments (id, mutual_id, household_id, amount, paid_on, channel, reference, "
    " ledger_key, created_at) "
    "SELECT y, mutual_id, hh, amount, (at + interval '1 minute')::date, 'mobile', ref, "
    " 'payment:' || ref, at + interval '1 minute' FROM bench_intent WHERE state = 'SUCCEEDED'",
    "INSERT INTO payment_intents (id, mutual_id, household_id, reference, provider, channel, "
    " msisdn, amount, currency, state, provider_txn_id, payment_id, initiate_attempts, polls, "
    " expires_at, created_at, updated_at, completed_at) "
    "SELECT y, mutual_id, hh, ref, 'sandbox', 'ussd', msisdn, amount, 'XOF', state, "
    " CASE WHEN state <> 'PENDING' THEN 'TX' || y END, "
    " CASE WHEN state = 'SUCCEEDED' THEN y END, 1, 0, at + interval '15 minutes', at, "
    " at + interval '1 minute', CASE WHEN state <> 'PENDING' THEN at + interval '1 minute' END "
    "FROM bench_intent",
    "INSERT INTO payment_events (id, provider, event_key, source, intent_id, reference, "
    " provider_txn_id, state, amount, currency, msisdn, verified, outcome, received_at) "
    "SELECT y, 'sandbox', 'TX' || y || ':' || state, 'callback', y, ref, 'TX' || y, "
    " CASE WHEN state = 'SUCCEEDED' THEN 'SUCCESSFUL' ELSE 'FAILED' END, amount, 'XOF', "
    " msisdn, true, 'applied', at + interval '1 minute' "
    "FROM bench_intent WHERE state <> 'PENDING'",
    "INSERT INTO ledger_transactions (id, mutual_id, idempotency_key, kind, description, "
    " occurred_on, fingerprint, meta, created_at) "
    "SELECT y, mutual_id, 'payment:' || ref, 'payment', 'Paiement mobile', "
    " (at + interval '1 minute')::date, md5(ref), '{}', at + interval '1 minute' "
    "FROM bench_intent WHERE state = 'SUCCEEDED'",
    "INSERT INTO ledger_entries (id, transaction_id, account_id, amount) "
    "SELECT 2 * y - 1, y, mutual_id, amount FROM bench_intent WHERE state = 'SUCCEEDED' "
    "UNION ALL SELECT 2 * y, y, :accounts + hh, -amount FROM bench_intent "
    "WHERE state = 'SUCCEEDED'",
)

_SEQUENCES = (
    "mutuals", "sections", "products", "households", "beneficiaries", "household_phones",
    "ledger_accounts", "ussd_hops", "ussd_session_events", "outbox_messages", "payments",
    "payment_intents", "payment_events", "ledger_transactions", "ledger_entries",
)  # fmt: skip


def _finish(engine: Engine, size: Size, done: list[str]) -> None:
    """Sequences past the explicit ids, fresh statistics, and the seed marked complete; a
    complete seed that has just run a later step: its notifications vacuumed."""
    with engine.begin() as conn:
        complete = conn.scalar(text(f"SELECT 1 FROM {STEPS} WHERE step = 'complete'"))
    if complete:
        if LAST_SCREENS in done:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE ussd_session_events"))
        return
    with engine.begin() as conn:
        for table in _SEQUENCES:
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in (*BULK, "households", "beneficiaries", "household_phones"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {STEPS} VALUES ('complete', :l)"), {"l": size.label()})
