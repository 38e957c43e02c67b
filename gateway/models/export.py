"""CSV exports of the console's lists (console.md "JSON API", issue 17): one row per request,
run by a job, written gzipped under the exports directory, downloadable by its requester until
`expires_at`. The requester is a user (console) or an API token; the scope is copied from them
at request time, so the export shows what the list showed. At most one export per requester
and list is queued or running: a partial unique index (`requester` is `user:ID` or `token:ID`)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, StrEnumString, one_of
from gateway.models.operator import ScopeKind


class ExportState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


EXPORT_LISTS = ("sms", "payments", "ussd", "audit", "members")
UNFINISHED = text("state IN ('queued', 'running')")


class Export(IdMixin, Base):
    __tablename__ = "exports"
    __table_args__ = (
        CheckConstraint(one_of("state", ExportState), name="state"),
        CheckConstraint(one_of("list_name", EXPORT_LISTS), name="list_name"),
        CheckConstraint(one_of("scope_kind", ScopeKind), name="scope_kind"),
        CheckConstraint("date_to >= date_from", name="dates"),
        Index(
            "uq_exports_unfinished",
            "requester",
            "list_name",
            unique=True,
            postgresql_where=UNFINISHED,
            sqlite_where=UNFINISHED,
        ),
        Index("ix_exports_requester", "requester", "requested_at"),
    )

    list_name: Mapped[str] = mapped_column(String(16))
    requester: Mapped[str] = mapped_column(String(24))  # user:ID | token:ID
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"))
    scope_kind: Mapped[ScopeKind] = mapped_column(StrEnumString(ScopeKind, 10))
    scope_union_id: Mapped[int | None] = mapped_column(ForeignKey("unions.id"))
    scope_mutual_id: Mapped[int | None] = mapped_column(ForeignKey("mutuals.id"))
    scope_section_id: Mapped[int | None] = mapped_column(ForeignKey("sections.id"))
    date_from: Mapped[dt.date] = mapped_column()
    date_to: Mapped[dt.date] = mapped_column()  # inclusive
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)  # mutual, status, errors
    state: Mapped[ExportState] = mapped_column(
        StrEnumString(ExportState, 10), default=ExportState.QUEUED
    )
    rows: Mapped[int | None] = mapped_column()
    file_name: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[dt.datetime] = mapped_column()
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime] = mapped_column()
