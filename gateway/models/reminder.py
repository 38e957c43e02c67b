"""One row per reminder occurrence and household: the at-most-once record of D17.

The row is written before the SMS is queued, in the same transaction; its unique key
(household, campaign, rule, occurrence) makes a second run or a second worker a no-op. D15's
"at most one campaign reminder a day" is the partial unique index on (household, sent_on) over
the 'sent' rows: whichever run records a second one for the same local day loses."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.models.base import Base, IdMixin, utcnow

OCCURRENCE_STATUSES = ("sent", "missed", "skipped")


class ReminderOccurrence(IdMixin, Base):
    __tablename__ = "reminder_occurrences"
    __table_args__ = (
        UniqueConstraint(
            "household_id",
            "campaign_id",
            "rule_id",
            "occurrence",
            name="uq_reminder_occurrences_once",
        ),
        CheckConstraint("status IN ('sent', 'missed', 'skipped')", name="status"),
        Index(
            "uq_reminder_occurrences_daily",
            "household_id",
            "sent_on",
            unique=True,
            postgresql_where=text("status = 'sent'"),
            sqlite_where=text("status = 'sent'"),
        ),
    )

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("reminder_rules.id"))
    occurrence: Mapped[int] = mapped_column()  # 0 for the first moment, n for the n-th repeat
    due_at: Mapped[dt.datetime] = mapped_column()  # UTC
    status: Mapped[str] = mapped_column(String(8))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The mutual's local date of the run that recorded the row (NULL before revision 0014).
    sent_on: Mapped[dt.date | None] = mapped_column()
