"""USSD session state in Redis (ussd.md): one JSON record per provider session, its TTL
refreshed on every write, one lock per session, and the last state per phone for resume.

Inputs are never stored: the record keeps an HMAC of each `text` it answered (and its length),
enough to recognise a repeated or extended hop without keeping a PIN in Redis. Phones are never
in a key or a record either: the per-phone key and the session's owner are keyed hashes
(HMAC-SHA256 with the app's secret key), so a Redis dump or `MONITOR` shows no number."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

from gateway.lib.phones import phone_key
from gateway.settings import DEV_SECRET_KEY

log = logging.getLogger(__name__)
SESSION_TTL_S = 600
LOCK_TTL_MS = 5_000  # longer than any hop; a crashed holder frees the session after it
LOCK_WAIT_S = 3.0  # a concurrent hop waits this long for the lock, then gives up
LOCK_POLL_S = 0.005
MAX_REMEMBERED = 60  # answered texts kept per session (a session has a few dozen hops)
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class SessionStoreUnavailable(redis.RedisError):
    """Redis cannot be reached: the hop is answered with a short END apology. A RedisError,
    so that callers guarding Redis calls (the events endpoint) catch it too."""


class SessionBusy(RuntimeError):
    """Another hop of the same session held the lock for too long."""


@dataclass
class Frame:
    """Where a session stands: screen, back stack, page, memory and language."""

    screen: str
    stack: list[str] = field(default_factory=list)
    page: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    lang: str = "fr"
    error: list[Any] | None = None  # [catalog key, params] of the re-prompt line


@dataclass
class SessionState:
    frame: Frame
    origin: Frame  # the first screen: divergent histories replay from here
    text_digest: str = ""
    text_len: int = 0
    reply: str = ""
    end: bool = False
    screen: str = ""
    answered: dict[str, list[Any]] = field(default_factory=dict)  # digest -> [text, end, screen]
    effects: dict[str, list[Any]] = field(default_factory=dict)  # action memo, see engine
    owner: str = ""  # keyed hash of the phone that opened the session (SessionStore.phone_hash)

    def to_json(self) -> str:
        # vars() rather than asdict(): no deep copy of the frames (a hop's largest CPU cost)
        record = vars(self) | {"frame": vars(self.frame), "origin": vars(self.origin)}
        return json.dumps(record, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> SessionState:
        data = json.loads(raw)
        return cls(**{**data, "frame": Frame(**data["frame"]), "origin": Frame(**data["origin"])})

    @classmethod
    def read(cls, raw: bytes | str | None) -> SessionState | None:
        """The stored state, or None (a new session) when there is none or it cannot be read:
        a record written by another version of the gateway starts over, it never crashes."""
        if not raw:
            return None
        try:
            return cls.from_json(raw)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ussd session state unreadable, starting over: %s", type(exc).__name__)
            return None

    def remember(self, digest: str, length: int, reply: list[Any]) -> None:
        self.text_digest, self.text_len = digest, length
        self.reply, self.end, self.screen = reply[0], reply[1], reply[2]
        self.answered[digest] = reply
        for memory in (self.answered, self.effects):
            while len(memory) > MAX_REMEMBERED:
                memory.pop(next(iter(memory)))


class SessionStore:
    """All Redis access of the engine; every Redis error becomes SessionStoreUnavailable."""

    def __init__(self, client: redis.Redis[bytes], secret: str = DEV_SECRET_KEY) -> None:
        self.client = client
        self._secret = secret

    @staticmethod
    def key(provider: str, session_id: str) -> str:
        return f"ussd:{provider}:{session_id}"

    def phone_hash(self, phone: str) -> str:
        """Keyed hash of a phone for keys and records: stable for one secret key, useless
        without it (a plain hash of a phone number is reversed by enumerating numbers)."""
        return phone_key(self._secret, phone)

    def last_key(self, phone: str) -> str:
        # Keys before the hash were `ussd:last:<phone>`: never read again, gone with their TTL.
        return f"ussd:last:h:{self.phone_hash(phone)}"

    def delete(self, key: str) -> None:
        self._call(self.client.delete, key)

    def load_last(self, phone: str) -> dict[str, Any] | None:
        return _record(self._call(self.client.get, self.last_key(phone)))

    def save_last(self, phone: str, record: dict[str, Any]) -> None:
        self._call(self.client.set, self.last_key(phone), json.dumps(record), ex=SESSION_TTL_S)

    def forget_last(self, phone: str) -> None:
        self._call(self.client.delete, self.last_key(phone))

    @contextmanager
    def hop(self, key: str, phone: str = "") -> Iterator[HopStore]:
        """Lock the session, read its state (and the phone's last frame) in the same round
        trip, and write back, in one more round trip with the unlock, what the block queued.

        The lock is SET NX PX with a token, freed by compare-and-delete so that a hop never
        frees a lock that expired and went to another. Queued writes are dropped if the block
        raises: the session stays as the last hop that completed left it."""
        lock, token = f"{key}:lock", secrets.token_hex(8)
        hop = self._acquire(key, lock, token, phone)
        try:
            yield hop
        except BaseException:
            hop.writes.clear()
            raise
        finally:
            pipe = self.client.pipeline(transaction=False)
            for name, args, kwargs in hop.writes:
                getattr(pipe, name)(*args, **kwargs)
            pipe.eval(_RELEASE, 1, lock, token)
            self._call(pipe.execute)

    def _acquire(self, key: str, lock: str, token: str, phone: str) -> HopStore:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(lock, token, nx=True, px=LOCK_TTL_MS)
            pipe.get(key)
            if phone:
                pipe.get(self.last_key(phone))
            got, raw, *last = self._call(pipe.execute)
            if got:
                record = _record(last[0]) if last else None
                return HopStore(self, key, phone, SessionState.read(raw), record)
            if time.monotonic() > deadline:
                raise SessionBusy(key)
            time.sleep(LOCK_POLL_S)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise SessionStoreUnavailable(str(exc)) from exc


def _record(raw: bytes | None) -> dict[str, Any] | None:
    """A phone's last-frame record, or None when absent or unreadable (start over)."""
    if not raw:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


@dataclass
class HopStore:
    """What one locked hop read, and the writes it queues for the end of the hop."""

    store: SessionStore
    key: str
    phone: str
    state: SessionState | None
    last: dict[str, Any] | None
    writes: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def save(self, state: SessionState) -> None:
        self.writes.append(("set", (self.key, state.to_json()), {"ex": SESSION_TTL_S}))

    def save_last(self, record: dict[str, Any]) -> None:
        last_key = self.store.last_key(self.phone)
        self.writes.append(("set", (last_key, json.dumps(record)), {"ex": SESSION_TTL_S}))

    def forget_last(self) -> None:
        self.writes.append(("delete", (self.store.last_key(self.phone),), {}))
