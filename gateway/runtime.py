"""One Runtime per process (web, worker, CLI): the process wiring, written once.

Settings and clock in; engine, sessions (with the after-commit enqueue), Redis and providers
built on first use. Nothing else in `gateway` or `worker` builds an engine or a Redis client
(tests/test_runtime.py scans for it), so every process gets the same timeouts: a database that
does not answer fails a connect in seconds, and a Redis that hangs fails a command."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.providers.payments import payment_provider
from gateway.providers.sms import sms_provider
from gateway.queueing import enqueue_after_commit
from gateway.redis_conn import connect_redis, rq_client
from gateway.services.messaging import SmsProvider
from gateway.services.payments import PaymentProvider
from gateway.settings import Settings

# The web process answers a person or a provider waiting on a request: a USSD hop, a callback,
# a console or API page. Its reads are bounded (keyed look-ups, keyset pages with a LIMIT, a
# few figures); PostgreSQL's parallel workers take longer to start than such a read takes, and
# each walks its own share of an index for a LIMIT one process stops early (measured with
# bench/bench_console.py on 2 cores: the USSD list's first page 166 ms with workers against
# a few ms without). Set once per connection, at connect (was a SET LOCAL per console page:
# a round trip per request, issue 16); the worker and the commands keep the server's default.
SERIAL_READS = "-c max_parallel_workers_per_gather=0"


class Runtime:
    """Settings, clock, database, Redis and providers of one process; cheap to build, connects
    on first use, thread-safe (gunicorn threads) and fork-aware (RQ work horses)."""

    def __init__(
        self, settings: Settings, clock: Clock | None = None, *, serial_reads: bool = False
    ) -> None:
        """`serial_reads`: the web process's connections plan without parallel workers
        (PostgreSQL), see SERIAL_READS."""
        self.settings = settings
        self.clock = clock or Clock()
        self.serial_reads = serial_reads
        self.sms: SmsProvider | None = None  # built on first use; tests may set a fake
        self.payment_providers: dict[str, PaymentProvider] = {}  # by name; tests may set fakes
        self._lock = threading.RLock()
        self._pid = 0
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._redis: Redis[bytes] | None = None
        self._rq_redis: Redis[bytes] | None = None

    # --- database ---------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._database()[0]

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """Sessions that enqueue their deferred jobs once they commit (gateway.queueing)."""
        return self._database()[1]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work (job, command, sandbox): commits when the block succeeds, rolls back
        otherwise."""
        with session_scope(self.session_factory) as session:
            yield session

    def _database(self) -> tuple[Engine, sessionmaker[Session]]:
        engine, factory = self._engine, self._factory
        if engine is None or factory is None or self._pid != os.getpid():
            with self._lock:
                engine, factory = self._build_database()
        return engine, factory

    def _build_database(self) -> tuple[Engine, sessionmaker[Session]]:
        """Built once, and again in a forked child: the inherited pool is dropped without
        closing its connections, which still belong to the parent."""
        if self._engine is not None and self._factory is not None and self._pid == os.getpid():
            return self._engine, self._factory  # another thread built it meanwhile
        if self._engine is not None:
            self._engine.dispose(close=False)
        serial = self.serial_reads and make_url(self.settings.database_url).get_backend_name()
        engine = make_engine(
            self.settings.database_url,
            connect_timeout_s=self.settings.db_connect_timeout_s,
            **({"connect_args": {"options": SERIAL_READS}} if serial == "postgresql" else {}),
        )
        factory = make_session_factory(engine)
        enqueue_after_commit(factory, lambda: self.redis)  # connects only if a job is deferred
        self._engine, self._factory, self._pid = engine, factory, os.getpid()
        return engine, factory

    # --- Redis ------------------------------------------------------------------------------

    @property
    def redis(self) -> Redis[bytes]:
        """The Redis of queues and USSD sessions, with connect and read timeouts."""
        if self._redis is None:
            with self._lock:
                if self._redis is None:
                    self._redis = connect_redis(
                        self.settings,
                        socket_connect_timeout=self.settings.redis_connect_timeout_s,
                        socket_timeout=self.settings.redis_timeout_s,
                    )
        return self._redis

    def rq_redis(self) -> Redis[bytes]:
        """The RQ worker's connection: the same server and timeouts on a plain client with a
        pool of its own (see gateway.redis_conn.rq_client)."""
        with self._lock:
            if self._rq_redis is None:
                self._rq_redis = rq_client(self.redis)
            return self._rq_redis

    # --- providers --------------------------------------------------------------------------

    def sms_provider(self) -> SmsProvider:
        """The configured SMS provider, built on first use (tests may set `sms`)."""
        if self.sms is None:
            self.sms = sms_provider(self.settings)
        return self.sms

    def payment_provider(self, name: str) -> PaymentProvider:
        """The adapter `name`, built once; unknown names raise ValueError."""
        with self._lock:
            if name not in self.payment_providers:
                self.payment_providers[name] = payment_provider(name, self)
            return self.payment_providers[name]

    # --- shutdown ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release pooled connections (orderly shutdowns, tests); a later use builds anew."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            for client in (self._rq_redis, self._redis):
                if client is not None:
                    client.close()
            self._engine = self._factory = None
            self._redis = self._rq_redis = None
