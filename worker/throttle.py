"""A token bucket in Redis, shared by every worker process (messaging.md, "Throughput").

One Lua script refills the bucket at `rate` tokens per second (capacity `rate`: at most one
second of burst) and takes `n` tokens atomically, or says how long to wait for them; so any
number of workers together stay under the provider's messages-per-second limit."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

KEY_PREFIX = "gateway:sms:bucket"
# KEYS[1] bucket; ARGV rate (tokens/s), n wanted, now (s, float). Returns the wait in
# microseconds (0: taken). The key expires once idle long enough to be full again.
LUA = """
local rate = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(rate, tokens + (now - at) * rate) end
if now < at then now = at end
local wait = 0
if tokens >= want then
  tokens = tokens - want
else
  wait = math.ceil((want - tokens) / rate * 1000000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(want / rate) + 60)
return wait
"""


class TokenBucket:
    """`take(n)` blocks (sleeping outside Redis) until n tokens were taken."""

    def __init__(
        self,
        connection: redis.Redis[bytes],
        name: str,
        rate: int,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1 message per second")
        self.key = f"{KEY_PREFIX}:{name}"
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self._script = connection.register_script(LUA)

    def try_take(self, n: int) -> float:
        """Take n tokens now and return 0, or take nothing and return the seconds to wait."""
        if n < 1:
            return 0.0
        wait = self._script(keys=[self.key], args=[self.rate, n, repr(self.clock())])
        return int(wait) / 1_000_000

    def take(self, n: int) -> float:
        """Take n tokens (n above the rate is taken in slices); returns the seconds waited."""
        waited = 0.0
        left = n
        while left > 0:
            part = min(left, self.rate)
            wait = self.try_take(part)
            if wait > 0:
                self.sleep(wait)
                waited += wait
                continue
            left -= part
        return waited
