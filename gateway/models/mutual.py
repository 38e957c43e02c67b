"""A mutual (mutuelle de santé), its sections and its funders."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.models.base import Base, CreatedMixin, IdMixin

if TYPE_CHECKING:
    from gateway.models.product import Product


SMS_NAME_MAX = 24  # the templates are checked with a 24-character mutual name


class Mutual(IdMixin, CreatedMixin, Base):
    __tablename__ = "mutuals"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # What every SMS starts with (`[mutual] short_name`); None: the code.
    short_name: Mapped[str | None] = mapped_column(String(SMS_NAME_MAX))
    country: Mapped[str] = mapped_column(String(2))  # ISO alpha-2, default region for phones
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Ouagadougou")
    languages: Mapped[list[str]] = mapped_column(default=lambda: ["fr"])
    service_codes: Mapped[list[str]] = mapped_column(default=list)
    sms_sender_id: Mapped[str | None] = mapped_column(String(11))
    contact: Mapped[str | None] = mapped_column(String(120))
    quiet_hours_start: Mapped[dt.time] = mapped_column(default=dt.time(20, 0))
    quiet_hours_end: Mapped[dt.time] = mapped_column(default=dt.time(8, 0))
    catch_up_hours: Mapped[int] = mapped_column(default=48)
    payment_provider: Mapped[str] = mapped_column(String(32), default="sandbox")
    payment_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sms_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)  # prices per segment
    # Days an agent may hold collected cash before an alert (D21; `[mutual] cash_max_days`).
    cash_max_days: Mapped[int] = mapped_column(default=7)
    # A payment above this many years of the household's shares waits for an operator
    # (`[mutual] payment_hold_multiple`) instead of becoming years of credit.
    payment_hold_multiple: Mapped[int] = mapped_column(default=5, server_default="5")
    # The union it belongs to (D27 scopes, D22 roll-ups); None: in no union.
    union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"), index=True)

    sections: Mapped[list[Section]] = relationship(back_populates="mutual", order_by="Section.id")
    funders: Mapped[list[Funder]] = relationship(back_populates="mutual", order_by="Funder.id")
    products: Mapped[list[Product]] = relationship(back_populates="mutual", order_by="Product.id")

    @property
    def sms_name(self) -> str:
        """The name SMS start with: the short name, else the code (cut to the budget the
        one-segment templates are checked with)."""
        return (self.short_name or self.code)[:SMS_NAME_MAX]

    @property
    def default_language(self) -> str:
        return self.languages[0] if self.languages else "fr"


class Section(IdMixin, Base):
    """Village / commune sub-unit where collection happens."""

    __tablename__ = "sections"
    __table_args__ = (UniqueConstraint("mutual_id", "name"),)

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))

    mutual: Mapped[Mutual] = relationship(back_populates="sections")


class Funder(IdMixin, Base):
    """The State or a partner paying part of some households' contributions (D3)."""

    __tablename__ = "funders"
    __table_args__ = (UniqueConstraint("mutual_id", "code"),)

    mutual_id: Mapped[int] = mapped_column(ForeignKey("mutuals.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))

    mutual: Mapped[Mutual] = relationship(back_populates="funders")
