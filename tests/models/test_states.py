"""States as StrEnums (gateway.models): each enum's values are the strings the specification
names and the migrations' CHECK constraints allow, so renaming a member's value fails here
rather than in a database that refuses the row; the column stores plain strings and reads
back members."""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from gateway.models import (
    ActionKind,
    ActionState,
    Base,
    EnrolmentStatus,
    IntentFlag,
    IntentState,
    LineStatus,
    OutboxMessage,
    OutboxStatus,
    RemittanceStatus,
    Role,
    ScopeKind,
    SuspenseState,
)
from gateway.models.base import StrEnumString
from tests.support.factories import make_mutual
from tests.support.paths import ROOT


def values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


# --- the specification's names, one test per model module --------------------------------


def test_payment_intent_states_are_those_of_payments_md() -> None:
    """payments.md: `CREATED -> PENDING -> SUCCEEDED | FAILED | EXPIRED`, plus `UNKNOWN`; a
    late success is flagged; a suspense line is assigned to a household or ignored."""
    assert set(values(IntentState)) == {
        "CREATED",
        "PENDING",
        "SUCCEEDED",
        "FAILED",
        "EXPIRED",
        "UNKNOWN",
    }
    assert values(IntentFlag) == ["late", "amount_mismatch", "escalated"]
    assert values(SuspenseState) == ["OPEN", "ASSIGNED", "IGNORED"]


def test_outbox_statuses_are_those_of_messaging_md() -> None:
    """messaging.md: `QUEUED -> SENDING -> SENT -> DELIVERED | FAILED | REJECTED | EXPIRED`;
    `SKIPPED`."""
    assert values(OutboxStatus) == [
        "QUEUED",
        "SENDING",
        "SENT",
        "DELIVERED",
        "FAILED",
        "REJECTED",
        "EXPIRED",
        "SKIPPED",
    ]


def test_remittance_statuses_are_pending_confirmed_rejected() -> None:
    """D21: declared, then confirmed or rejected by a supervisor."""
    assert values(RemittanceStatus) == ["PENDING", "CONFIRMED", "REJECTED"]


def test_reconciliation_states_are_the_statement_and_action_words() -> None:
    """payments.md, Reconciliation: a statement line succeeded or failed (the generic CSV's
    `status`); people assign, ignore, or approve an assignment above the threshold."""
    assert values(LineStatus) == ["SUCCEEDED", "FAILED"]
    assert values(ActionKind) == ["assign", "ignore", "approve"]
    assert values(ActionState) == ["DONE", "PENDING", "REFUSED"]


def test_enrolment_statuses_are_d24s() -> None:
    """D24: typed on USSD (a draft), waiting for a manager, then approved or rejected."""
    assert values(EnrolmentStatus) == ["DRAFT", "PENDING", "APPROVED", "REJECTED"]


def test_operator_roles_and_scopes_are_d27s() -> None:
    """D27: four roles; a scope is the deployment, a union, a mutual or a section."""
    assert values(Role) == ["admin", "manager", "finance", "viewer"]
    assert values(ScopeKind) == ["all", "union", "mutual", "section"]


# --- what the database allows -------------------------------------------------------------


def enum_columns() -> list[tuple[str, str, type[StrEnum]]]:
    return [
        (table.name, column.name, column.type.enum_type)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, StrEnumString)
    ]


def migrated_check(table: str, column: str) -> list[str]:
    """The values the migrations' CHECK constraint `ck_<table>_<column>` allows, in order."""
    name = f"ck_{table}_{column}"
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if f"'{name}'" in line:
                allowed = re.search(rf"{column} IN \(([^)]*)\)", line)
                assert allowed is not None, line
                return re.findall(r"'([^']*)'", allowed.group(1))
    raise AssertionError(f"no CHECK constraint {name} in the migrations")


def test_every_state_column_is_found() -> None:
    found = {(table, column) for table, column, _ in enum_columns()}
    assert found == {
        ("payment_intents", "state"),
        ("payment_intents", "flag"),
        ("suspense_items", "state"),
        ("outbox_messages", "status"),
        ("remittances", "status"),
        ("statement_lines", "status"),
        ("statement_repeats", "status"),
        ("recon_actions", "kind"),
        ("recon_actions", "state"),
        ("users", "role"),
        ("users", "scope_kind"),
        ("api_tokens", "role"),
        ("api_tokens", "scope_kind"),
        ("exports", "state"),
        ("exports", "scope_kind"),
        ("enrolments", "status"),
    }


@pytest.mark.parametrize(
    ("table", "column", "enum"), enum_columns(), ids=[f"{t}.{c}" for t, c, _ in enum_columns()]
)
def test_enum_values_are_what_the_migrations_allow(
    table: str, column: str, enum: type[StrEnum]
) -> None:
    assert values(enum) == migrated_check(table, column)


# --- the column type ----------------------------------------------------------------------


def queued_message(db: Session) -> OutboxMessage:
    mutual = make_mutual(db)
    message = OutboxMessage(
        mutual_id=mutual.id,
        phone="+22670000001",
        template="help",
        language="fr",
        text="Aide",
        reason="other",
    )
    db.add(message)
    db.flush()
    return message


def test_states_are_stored_as_plain_strings_and_read_as_members(db: Session) -> None:
    message = queued_message(db)
    message.status = OutboxStatus.SENDING
    db.flush()
    raw = db.execute(text("SELECT status FROM outbox_messages WHERE id = :id"), {"id": message.id})
    assert raw.scalar_one() == "SENDING"
    db.expire_all()
    loaded = db.get_one(OutboxMessage, message.id)
    assert loaded.status is OutboxStatus.SENDING


def test_a_value_outside_the_set_fails_before_any_sql(db: Session) -> None:
    queued_message(db)
    with pytest.raises(StatementError, match="'SENDNG' is not a valid OutboxStatus"):
        db.scalars(select(OutboxMessage).where(OutboxMessage.status == "SENDNG")).all()
    db.rollback()
    message = queued_message(db)
    message.status = "LOST"  # type: ignore[assignment]
    with pytest.raises(StatementError, match="'LOST' is not a valid OutboxStatus"):
        db.flush()
