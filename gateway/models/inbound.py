"""Incoming SMS (messaging.md): one row per provider message, so a redelivery is seen as one.

The aggregator redelivers an inbound SMS until it gets a 200, sometimes for hours; the unique
(provider, provider_id) pair makes the second and later deliveries change nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, utcnow

PROVIDER_LEN, PROVIDER_ID_LEN, PHONE_LEN, TO_LEN = 32, 128, 16, 32
LINK_LEN, NETWORK_LEN, KEYWORD_LEN = 128, 16, 16


class InboundSms(IdMixin, Base):
    """An SMS a member sent to the mutual's short code or sender id, and what it matched."""

    __tablename__ = "inbound_sms"
    __table_args__ = (UniqueConstraint("provider", "provider_id"),)

    provider: Mapped[str] = mapped_column(String(PROVIDER_LEN))
    provider_id: Mapped[str] = mapped_column(String(PROVIDER_ID_LEN))
    from_phone: Mapped[str] = mapped_column(String(PHONE_LEN), index=True)  # E.164
    to: Mapped[str] = mapped_column(String(TO_LEN))
    text: Mapped[str] = mapped_column(Text)
    link_id: Mapped[str | None] = mapped_column(String(LINK_LEN))
    network: Mapped[str | None] = mapped_column(String(NETWORK_LEN))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    keyword: Mapped[str | None] = mapped_column(String(KEYWORD_LEN))  # matched keyword or None
    handled: Mapped[bool] = mapped_column(default=False)
