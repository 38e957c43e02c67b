"""The JSON API's per-token rate limit (console.md "JSON API", issue 17): a fixed window in
Redis, one counter per token and minute (`INCR` then `EXPIRE`, in one round trip). A client
over the limit is answered 429 with Retry-After: the seconds left in the window."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from redis import Redis

WINDOW_SECONDS = 60
LIMIT = 600  # requests per token and window
KEY = "api:rate:{token}:{window}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window ends


def hit(redis: Redis[bytes], token_id: int, now: dt.datetime, limit: int) -> Verdict:
    """Count one request of `token_id` in the window of `now`; allowed up to `limit`."""
    second = int(now.timestamp())
    window, into = divmod(second, WINDOW_SECONDS)
    key = KEY.format(token=token_id, window=window)
    pipe = redis.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 1)
    count, _ = pipe.execute()
    return Verdict(int(count) <= limit, WINDOW_SECONDS - into)
