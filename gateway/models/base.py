"""Declarative base, naming convention (stable constraint names for Alembic), common types."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import JSON, BigInteger, DateTime, MetaData, String, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money is whole XOF (D2): BIGINT everywhere, never floats.
Money = BigInteger


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on PostgreSQL and SQLite alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


E = TypeVar("E", bound=enum.StrEnum)
T = TypeVar("T")


class StrEnumString(TypeDecorator[E]):
    """A closed set of states kept as its plain values in a VARCHAR column, so rows, CHECK
    constraints and migrations stay those of a string while code reads and writes members.

    Binding goes through the enum: a value outside the set fails before any SQL is sent."""

    impl = String
    cache_ok = True

    def __init__(self, enum_type: type[E], length: int) -> None:
        super().__init__(length)
        self.enum_type = enum_type
        # Dict lookups, not enum calls: bulk inserts and loads pass here once per row. The
        # driver is given the plain string value, never the member.
        self._members = {member.value: member for member in enum_type}
        self._plain: dict[str, str] = {member.value: member.value for member in enum_type}

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self._lookup(self._plain, value)

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self._lookup(self._members, value)

    def _lookup(self, found: dict[str, T], value: str) -> T:
        try:
            return found[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a valid {self.enum_type.__name__}") from None


def one_of(column: str, values: Iterable[str]) -> str:
    """The SQL of a CHECK constraint on a closed set: `state IN ('A', 'B')`."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, dt.datetime: UTCDateTime}  # noqa: RUF012


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)


class CreatedMixin:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
