"""USSD audit: one row per hop and one per end-of-session notification (ussd.md).

Both tables hold masked phones and masked inputs only; together they give the D22 indicator
"USSD sessions completed vs dropped" and the drop-off per screen."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.lib.phones import PHONE_KEY_LEN
from gateway.models.base import Base, IdMixin, utcnow

STATUSES = ("Success", "Incomplete", "Failed")
# Column widths; longer values are cut by the audit service, never rejected.
PROVIDER_LEN, SESSION_LEN, PHONE_LEN, NETWORK_LEN, CODE_LEN = 32, 128, 24, 16, 32
SCREEN_LEN, INPUT_LEN, REPLY_LEN, COST_LEN, MESSAGE_LEN = 64, 200, 400, 32, 400


class UssdHop(IdMixin, Base):
    """One request/reply of a USSD session, as the member saw it. `mutual_id`: the mutual the
    caller was identified for (None: no mutual serves that code); `phone_key`: the keyed hash
    of the phone (gateway.lib.phones.phone_key), how the console finds a member's calls."""

    __tablename__ = "ussd_hops"
    __table_args__ = (
        # A household's hops newest first, in index order (migration 0026).
        Index("ix_ussd_hops_phone_key", "phone_key", "mutual_id", "created_at", "id"),
        Index("ix_ussd_hops_mutual", "mutual_id", "created_at", "id"),
        # The console's errors-only sessions: the rare apology hops by time (migration 0026).
        Index(
            "ix_ussd_hops_apology",
            "created_at",
            "session_id",
            postgresql_where=text("screen = 'apology'"),
            sqlite_where=text("screen = 'apology'"),
        ),
    )

    provider: Mapped[str] = mapped_column(String(PROVIDER_LEN))
    session_id: Mapped[str] = mapped_column(String(SESSION_LEN), index=True)
    phone_masked: Mapped[str] = mapped_column(String(PHONE_LEN))
    network: Mapped[str | None] = mapped_column(String(NETWORK_LEN))
    service_code: Mapped[str] = mapped_column(String(CODE_LEN))
    screen: Mapped[str] = mapped_column(String(SCREEN_LEN))
    input_masked: Mapped[str] = mapped_column(String(INPUT_LEN))
    reply: Mapped[str] = mapped_column(String(REPLY_LEN))
    latency_ms: Mapped[int] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"))
    phone_key: Mapped[str | None] = mapped_column(String(PHONE_KEY_LEN))


class UssdSessionEvent(IdMixin, Base):
    """The aggregator's end-of-session notification; the first one received for a session
    is kept, later duplicates change nothing. `last_screen`: the screen of the session's last
    hop when the notification arrived (None: no hop audited), where a dropped session left."""

    __tablename__ = "ussd_session_events"
    __table_args__ = (
        UniqueConstraint("provider", "session_id"),
        CheckConstraint("status IN ('Success', 'Incomplete', 'Failed')", name="status"),
        Index("ix_ussd_session_events_phone_key", "phone_key", "mutual_id", "received_at", "id"),
        Index("ix_ussd_session_events_mutual", "mutual_id", "received_at", "id"),
        # The console's drop-off per screen: the window's dropped sessions (migration 0035).
        Index(
            "ix_ussd_session_events_dropped",
            "received_at",
            "mutual_id",
            "last_screen",
            postgresql_where=text("status IN ('Incomplete', 'Failed')"),
            sqlite_where=text("status IN ('Incomplete', 'Failed')"),
        ),
    )

    provider: Mapped[str] = mapped_column(String(PROVIDER_LEN))
    session_id: Mapped[str] = mapped_column(String(SESSION_LEN))
    phone_masked: Mapped[str] = mapped_column(String(PHONE_LEN))
    network: Mapped[str | None] = mapped_column(String(NETWORK_LEN))
    service_code: Mapped[str] = mapped_column(String(CODE_LEN))
    status: Mapped[str] = mapped_column(String(12))
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    cost: Mapped[str | None] = mapped_column(String(COST_LEN))
    duration_ms: Mapped[int | None] = mapped_column()
    hops_count: Mapped[int | None] = mapped_column()
    input_masked: Mapped[str] = mapped_column(String(INPUT_LEN))
    last_app_response: Mapped[str | None] = mapped_column(String(REPLY_LEN))
    error_message: Mapped[str | None] = mapped_column(String(MESSAGE_LEN))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"))  # of its hops
    phone_key: Mapped[str | None] = mapped_column(String(PHONE_KEY_LEN))
    last_screen: Mapped[str | None] = mapped_column(String(SCREEN_LEN))
