"""The USSD audit log (ussd.md): every hop and every end-of-session notification, stored with
masked phones and masked inputs, and the queries D22 needs (completed vs dropped sessions,
drop-off per screen).

Masking rules, chosen so that a PIN can never reach the database:
- a hop on a screen whose name contains "pin" (`agent_pin`, `pin_retry`) stores `****`;
- several inputs joined by `*` (the events' `input`, or a hop that carries a deep dial or a
  replay) keep only the segments of one or two digits, the menu choices and the reserved keys
  `0`, `00`, `98`, that drop-off analysis needs; every other segment (PIN, member number,
  amount, wallet) becomes `xxxx` (not `****`, which would merge with the separators). PINs
  have 4 to 6 digits, so none survives."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NotRequired, TypedDict, Unpack

from sqlalchemy import (
    ColumnElement,
    Table,
    TextClause,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.lib.phones import mask_msisdn
from gateway.models.base import utcnow
from gateway.models.ussd import (
    CODE_LEN,
    COST_LEN,
    INPUT_LEN,
    MESSAGE_LEN,
    NETWORK_LEN,
    PROVIDER_LEN,
    REPLY_LEN,
    SCREEN_LEN,
    SESSION_LEN,
    STATUSES,
    UssdHop,
    UssdSessionEvent,
)

MASK = "****"
SEGMENT_MASK = "xxxx"
DROPPED = ("Incomplete", "Failed")
_MENU_CHOICE = re.compile(r"[0-9]{1,2}")


def mask_inputs(joined: str) -> str:
    """`1*2580*3` -> `1*xxxx*3`: only menu choices survive, and the number of inputs."""
    if not joined:
        return ""
    return "*".join(
        s if not s or _MENU_CHOICE.fullmatch(s) else SEGMENT_MASK for s in joined.split("*")
    )


def mask_hop_input(screen: str, user_input: str) -> str:
    """What the audit keeps of one hop's input: nothing on a PIN screen, the menu choices of a
    multi-input hop, the input itself otherwise (a member number, an amount, a choice)."""
    if "pin" in screen.lower():
        return MASK if user_input else ""
    if "*" in user_input:
        return mask_inputs(user_input)
    return user_input


def mask_phone(phone: str) -> str:
    return mask_msisdn(phone.strip()) if phone.strip() else ""


class HopFields(TypedDict):
    """One hop's audit values: what record_hop and append_hop take (keywords)."""

    provider: str
    session_id: str
    phone: str
    network: str | None
    service_code: str
    screen: str
    user_input: str
    reply: str
    latency_ms: int
    at: NotRequired[dt.datetime | None]
    mutual_id: NotRequired[int | None]
    phone_key: NotRequired[str | None]


def record_hop(session: Session, **fields: Unpack[HopFields]) -> None:
    """Add one hop to the audit log; the caller commits. `screen` is the screen the reply
    shows, so a dropped session's last hop names the screen the member left from.
    `mutual_id` and `phone_key` (gateway.lib.phones.phone_key) let the console find the
    hop by mutual and by member (issue 16)."""
    session.add(UssdHop(**hop_values(fields)))


def append_hop(session: Session, **fields: Unpack[HopFields]) -> None:
    """record_hop as a statement of its own, committed at once and without waiting for the
    disk (issue 19): on PostgreSQL one autocommit INSERT that sets `synchronous_commit` off
    for itself, one round trip and no WAL flush; a crash of the database server may lose the
    audit rows of its last moments (at most 3 x wal_writer_delay, 0.6 s by default), never a
    hop's effects, which the hop's own commit made durable. Call it between transactions;
    the caller commits (on PostgreSQL there is nothing left to commit)."""
    values = hop_values(fields)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(UssdHop).values(values))
        return
    connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    connection.execute(_RELAXED_INSERT, values)


def _relaxed_insert() -> TextClause:
    """The PostgreSQL audit INSERT, built once: a hop pays neither building a statement nor
    its cache key (issue 19); `set_config(..., true)` lasts for this statement's own
    transaction only."""
    names = ", ".join(_HOP_COLUMNS)
    binds = ", ".join(f":{name}" for name in _HOP_COLUMNS)
    table = UssdHop.__table__
    assert isinstance(table, Table)
    return text(
        "WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)) "
        f"INSERT INTO ussd_hops ({names}) SELECT {binds} FROM relaxed"
    ).bindparams(*(bindparam(name, type_=table.c[name].type) for name in _HOP_COLUMNS))


def hop_values(fields: HopFields) -> dict[str, object]:
    """The audit row's columns, every value cut to its column (the row cannot fail)."""
    screen, network = fields["screen"], fields["network"]
    return {
        "provider": fields["provider"][:PROVIDER_LEN],
        "session_id": fields["session_id"][:SESSION_LEN],
        "phone_masked": mask_phone(fields["phone"]),
        "network": network[:NETWORK_LEN] if network else None,
        "service_code": fields["service_code"][:CODE_LEN],
        "screen": screen[:SCREEN_LEN],
        "input_masked": mask_hop_input(screen, fields["user_input"])[:INPUT_LEN],
        "reply": fields["reply"][:REPLY_LEN],
        "latency_ms": max(0, int(fields["latency_ms"])),
        "created_at": fields.get("at") or utcnow(),
        "mutual_id": fields.get("mutual_id"),
        "phone_key": fields.get("phone_key"),
    }


_HOP_COLUMNS = (
    "provider", "session_id", "phone_masked", "network", "service_code", "screen",
    "input_masked", "reply", "latency_ms", "created_at", "mutual_id", "phone_key",
)  # fmt: skip
_RELAXED_INSERT = _relaxed_insert()


@dataclass(frozen=True)
class SessionEnd:
    """An end-of-session notification, parsed by the provider's handler, PINs still inside
    `inputs`: record_session_end masks them."""

    provider: str
    session_id: str
    phone: str
    network: str | None
    service_code: str
    status: str
    ended_at: dt.datetime | None = None
    cost: str | None = None
    duration_ms: int | None = None
    hops_count: int | None = None
    inputs: str = ""
    last_app_response: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")


def record_session_end(
    session: Session,
    end: SessionEnd,
    *,
    at: dt.datetime | None = None,
    phone_key: str | None = None,
) -> bool:
    """Store the notification unless one is already there for that session; True when new.
    Its mutual is its hops', and its `last_screen` the screen of its last hop, where a dropped
    session left (one query of the session's hops, issue 16).

    Aggregators may deliver twice: the first copy wins, and a concurrent duplicate that loses
    the race on the unique key is answered as a duplicate, not as an error."""
    if _event_exists(session, end.provider, end.session_id):
        return False
    row = _event_row(end, at or utcnow())
    row.phone_key = phone_key
    row.mutual_id, row.last_screen = hops_mutual_and_screen(session, end.provider, end.session_id)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def _event_exists(session: Session, provider: str, session_id: str) -> bool:
    query = select(UssdSessionEvent.id).where(
        UssdSessionEvent.provider == provider[:PROVIDER_LEN],
        UssdSessionEvent.session_id == session_id[:SESSION_LEN],
    )
    return session.scalar(query) is not None


def hops_mutual_and_screen(
    session: Session, provider: str, session_id: str
) -> tuple[int | None, str | None]:
    """The mutual recorded on a session's hops, if any, and the screen of its last hop (None
    when no hop is audited): one statement."""
    same = (
        UssdHop.provider == provider[:PROVIDER_LEN],
        UssdHop.session_id == session_id[:SESSION_LEN],
    )
    mutual = select(UssdHop.mutual_id).where(*same, UssdHop.mutual_id.is_not(None)).limit(1)
    screen = select(UssdHop.screen).where(*same).order_by(UssdHop.id.desc()).limit(1)
    row = session.execute(select(mutual.scalar_subquery(), screen.scalar_subquery())).one()
    return row[0], row[1]


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _event_row(end: SessionEnd, at: dt.datetime) -> UssdSessionEvent:
    return UssdSessionEvent(
        provider=end.provider[:PROVIDER_LEN],
        session_id=end.session_id[:SESSION_LEN],
        phone_masked=mask_phone(end.phone),
        network=_cut(end.network, NETWORK_LEN),
        service_code=end.service_code[:CODE_LEN],
        status=end.status,
        ended_at=end.ended_at,
        cost=_cut(end.cost, COST_LEN),
        duration_ms=end.duration_ms,
        hops_count=end.hops_count,
        input_masked=mask_inputs(end.inputs)[:INPUT_LEN],
        last_app_response=_cut(end.last_app_response, REPLY_LEN),
        error_message=_cut(end.error_message, MESSAGE_LEN),
        received_at=at,
    )


def session_outcomes(session: Session, since: dt.datetime) -> dict[str, int]:
    """Sessions ended since `since` by status (D22: completed vs dropped); zeros included."""
    query = (
        select(UssdSessionEvent.status, func.count())
        .where(UssdSessionEvent.received_at >= since)
        .group_by(UssdSessionEvent.status)
    )
    counts = {status: 0 for status in STATUSES}
    counts.update({status: count for status, count in session.execute(query).all()})
    return counts


def dropoff_by_screen(
    session: Session,
    since: dt.datetime,
    until: dt.datetime | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[tuple[str, int]]:
    """For sessions that ended Incomplete or Failed since `since` (and before `until`), where
    they were: the screen of each one's last audited hop, counted, most frequent first.
    `where`: a condition on the session events (the console's scope and mutual filter).

    The screen is the one the notification kept when it arrived (`last_screen`), so the count
    reads the window's dropped notifications only (their partial index, migration 0035), not
    the hops; a session with no audited hop is not counted."""
    event = UssdSessionEvent
    ended = [
        event.status.in_(DROPPED),
        event.received_at >= since,
        event.last_screen.is_not(None),
    ]
    if until is not None:
        ended.append(event.received_at < until)
    if where is not None:
        ended.append(where)
    count = func.count().label("sessions")
    query = (
        select(event.last_screen, count)
        .where(*ended)
        .group_by(event.last_screen)
        .order_by(count.desc(), event.last_screen)
    )
    return [(str(screen), n) for screen, n in session.execute(query).all()]
