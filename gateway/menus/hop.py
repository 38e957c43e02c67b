"""The USSD engine (ussd.md, Engine semantics): idempotent hops over Redis session state.

- `text` equal to one already answered in this session: the stored reply, no effect (this
  covers the duplicate and the late duplicate of an old hop).
- `text` = last answered + `*` + new: exactly one new input, `new` (it may contain `*`).
- Anything else (deep dial on the first hop, divergent history): replay input by input from
  the session's first screen; actions already run for the same history are not run again.
One lock per session serialises hops. The database session is the caller's: the engine
flushes, never commits. Redis down raises SessionStoreUnavailable (the handler apologises).

A session belongs to the phone that opened it (its state keeps a keyed hash of that phone):
a hop of another phone with the same sessionId is answered END `session_refused`, and the
session is left as it was. An aggregator never reuses a live sessionId for another phone, so
this is a forged or confused request; an END is a valid answer that closes it without running
anything, where a fresh session would replay the first phone's inputs under another caller."""

from __future__ import annotations

import copy
import hashlib
import hmac
from dataclasses import asdict, replace
from typing import Any

import redis
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.menus.engine.catalog import DEFAULT_LANGUAGE, Translator, screen_budget
from gateway.menus.engine.machine import RESUME, Machine
from gateway.menus.engine.port import UssdReply, UssdRequest
from gateway.menus.engine.render import clean
from gateway.menus.engine.screens import Registry, StaleSession
from gateway.menus.engine.store import (
    Frame,
    HopStore,
    SessionBusy,
    SessionState,
    SessionStore,
    SessionStoreUnavailable,
)
from gateway.menus.journeys import caller, registry
from gateway.menus.journeys.memory import ResumeMemory, stored
from gateway.settings import DEV_SECRET_KEY, Settings

__all__ = [
    "Engine",
    "SessionBusy",
    "SessionStoreUnavailable",
    "UssdReply",
    "UssdRequest",
    "note_session_end",
]

INCOMPLETE = "Incomplete"
REFUSED = "session_refused"  # screen (and catalog key) of another phone's hop


class Engine:
    """`Engine(redis, settings, clock).handle(db, request) -> UssdReply`; cheap to build."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        settings: Settings,
        clock: Clock,
        menus: Registry | None = None,
    ) -> None:
        self.store = SessionStore(client, settings.secret_key)
        self.settings = settings
        self.clock = clock
        self.registry = menus or registry()

    def handle(self, db: Session, request: UssdRequest) -> UssdReply:
        key = self.store.key(request.provider, request.session_id)
        with self.store.hop(key, request.phone) as hop:
            owner = self.store.phone_hash(request.phone)
            if hop.state is not None and hop.state.owner != owner:
                if hop.state.owner:
                    return _refused()
                hop.state = None  # state written before sessions were bound: start over
            digest = self._digest(request, request.text)
            known = _known(hop.state, digest)
            if known is not None:
                return _with_mutual(known, hop.state)
            try:
                state, reply = self._run(db, request, hop)
            except StaleSession:  # start again from who calls now, replaying the text
                hop.state = None
                state, reply = self._run(db, request, hop)
            state.remember(
                digest, len(request.text), [reply.text, reply.end, reply.screen, reply.logged_input]
            )
            db.flush()
            hop.save(state)
            self._note_last(hop, state)
            return _with_mutual(reply, state)

    def _run(
        self, db: Session, request: UssdRequest, hop: HopStore
    ) -> tuple[SessionState, UssdReply]:
        """Apply the hop to the session's state (a new session when none) and render it."""
        budget = screen_budget(self.settings, request.network_code)
        session = self.store.key(request.provider, request.session_id)
        machine = Machine(
            self.registry, db, self.clock, request.phone, request.service_code, budget, session
        )
        state = hop.state or self._new_state(db, request, hop.last)
        logged = self._advance(machine, state, request)
        text, end = machine.render(state.frame)
        return state, UssdReply(text, end, state.frame.screen, logged)

    def _new_state(
        self, db: Session, request: UssdRequest, last: dict[str, Any] | None
    ) -> SessionState:
        origin = self._origin(db, request, last)
        owner = self.store.phone_hash(request.phone)
        return SessionState(frame=copy.deepcopy(origin), origin=origin, owner=owner)

    def forget(self, request: UssdRequest) -> None:
        """Drop a session whose hop could not be committed: its next hop replays afresh."""
        self.store.delete(self.store.key(request.provider, request.session_id))

    def mark_incomplete(self, phone: str) -> None:
        _note_end(self.store, phone, INCOMPLETE)

    # --- hops ----------------------------------------------------------------------------

    def _advance(self, machine: Machine, state: SessionState, request: UssdRequest) -> str:
        """Apply this hop's input(s); returns them as the audit may log them."""
        text = request.text
        if state.text_digest and len(text) > state.text_len:
            stored = text[: state.text_len]
            joined = text[state.text_len] == "*" or state.text_len == 0
            if joined and hmac.compare_digest(self._digest(request, stored), state.text_digest):
                new = text[state.text_len + 1 :] if state.text_len else text
                return machine.step(state.frame, new, self._digest(request, text), state.effects)
        return self._replay(machine, state, request)

    def _replay(self, machine: Machine, state: SessionState, request: UssdRequest) -> str:
        state.frame = copy.deepcopy(state.origin)
        inputs = request.text.split("*") if request.text else []
        logged = []
        for i, value in enumerate(inputs):
            prefix = self._digest(request, "*".join(inputs[: i + 1]))
            logged.append(machine.step(state.frame, value, prefix, state.effects))
        return "*".join(logged)

    def _digest(self, request: UssdRequest, text: str) -> str:
        """Keyed hash of a session's text: equality and prefix tests without keeping PINs."""
        message = f"{request.provider}:{request.session_id}:{text}".encode()
        key = self.settings.secret_key.encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    # --- first screen and resume ---------------------------------------------------------

    def _origin(self, db: Session, request: UssdRequest, last: dict[str, Any] | None) -> Frame:
        """Who calls decides the first screen; a member whose last session dropped inside a
        flow within 10 minutes is offered to resume it (only on a plain dial)."""
        start = caller.identify(db, request.phone, request.service_code)
        if request.text or not last or not last.get("incomplete"):
            return start
        if last.get("frame", {}).get("data", {}).get("kind") != start.data.get("kind"):
            return start
        offer: ResumeMemory = {"resume": last["frame"], "restart": asdict(start), "kind": "resume"}
        return Frame(screen=RESUME, data=stored(offer), lang=start.lang)

    def _note_last(self, hop: HopStore, state: SessionState) -> None:
        """Keep the frame of a member inside a flow; forget it at the menu or at the end."""
        frame = state.frame
        inside = frame.screen not in (frame.data.get("home"), RESUME, *self.registry.starts)
        if state.end or frame.data.get("kind") != caller.MEMBER or not inside:
            hop.forget_last()
            return
        hop.save_last({"frame": vars(frame), "incomplete": False})


def _known(state: SessionState | None, digest: str) -> UssdReply | None:
    """A text already answered, or any hop of a closed session: the stored reply."""
    if state is None:
        return None
    stored = state.answered.get(digest)
    if stored is not None:
        return UssdReply(str(stored[0]), bool(stored[1]), str(stored[2]), str(stored[3]))
    if state.end:
        return UssdReply(state.reply, True, state.screen)
    return None


def _with_mutual(reply: UssdReply, state: SessionState | None) -> UssdReply:
    """The reply with the session's mutual for the audit (issue 16), read from the session's
    first screen (caller.identify put it there): no query."""
    return replace(reply, mutual_id=session_mutual(state)) if state is not None else reply


def session_mutual(state: SessionState) -> int | None:
    """The mutual of the caller as identified; a resume offer keeps it in its restart frame."""
    data = state.origin.data
    restart = data.get("restart")
    if data.get("kind") == "resume" and isinstance(restart, dict):
        data = restart.get("data") or {}
    mutual = data.get("mutual_id")
    return mutual if isinstance(mutual, int) else None


def _refused() -> UssdReply:
    """Another phone's hop of a bound session: END, in the default language (the caller's own
    language is not known without running the session)."""
    return UssdReply(clean(Translator(DEFAULT_LANGUAGE)(REFUSED)), end=True, screen=REFUSED)


def note_session_end(
    client: redis.Redis[bytes], phone: str, status: str, secret: str = DEV_SECRET_KEY
) -> None:
    """Called for the provider's end-of-session notification: an `Incomplete` session of a
    member inside a flow becomes resumable for 10 minutes; any other ending forgets it.
    `secret` is the app's secret key, which keys the phone's hash (see SessionStore)."""
    _note_end(SessionStore(client, secret), phone, status)


def _note_end(store: SessionStore, phone: str, status: str) -> None:
    if status != INCOMPLETE:
        store.forget_last(phone)
        return
    last = store.load_last(phone)
    if last is not None:
        last["incomplete"] = True
        store.save_last(phone, last)


def store_errors() -> tuple[type[Exception], ...]:
    """What the handler turns into the END apology (Redis down, or a session stuck busy)."""
    return (SessionStoreUnavailable, SessionBusy)
