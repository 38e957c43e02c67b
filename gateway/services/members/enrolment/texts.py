"""The SMS of a decided enrolment (D24), in the enrolment's language: the head and the
collector (if any: a manager's console enrolment has none) get the household number and every
member's card number (`Awa 900000019013`); cards that do not fit one segment follow in further
messages (`enrol_cards`), so a large household never makes a message the outbox refuses. A
rejection tells the collector why (the reason cut to fit). Send jobs are deferred to the
commit."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from gateway.models import Enrolment, Household
from gateway.queueing import defer
from gateway.services.messaging import queue_new_sms, render_sms, room_left

FIRST_NAME_MAX = 10
Person = tuple[str, str | None, int | None, str]  # name, sex, year, relationship


def card(number: str, name: str) -> str:
    first = (name.split() or ["-"])[0][:FIRST_NAME_MAX]
    return f"{first} {number}"


def batches(template: str, lang: str, params: Mapping[str, object], cards: list[str]) -> list[str]:
    """`cards` split so that the first batch fits `template` and the others `enrol_cards`."""
    found: list[str] = []
    current: list[str] = []
    key = template
    for one in cards:
        trial = ", ".join([*current, one])
        if current and room_left(render_sms(key, lang, {**params, "cards": trial})) < 0:
            found.append(", ".join(current))
            current, key = [], "enrol_cards"
        current.append(one)
    found.append(", ".join(current))
    return found


def approval_sms(
    session: Session, enrolment: Enrolment, household: Household, people: list[tuple[str, Person]]
) -> list[int]:
    """The head's messages, then the collector's: same cards, different opening."""
    cards = [card(number, person[0]) for number, person in people]
    base = {"mutual": enrolment.mutual.sms_name, "household": household.number, "id": enrolment.id}
    ids = _send(session, enrolment, "head", "enrol_approved", base, cards, household.id)
    if enrolment.agent is not None:  # none when a manager enrolled it on the console
        phone = enrolment.agent.msisdn
        ids += _send(session, enrolment, "agent", "enrol_approved_agent", base, cards, None, phone)
    return ids


def rejection_sms(session: Session, enrolment: Enrolment) -> list[int]:
    """The collector's message; an enrolment without a collector (the console's) has none."""
    if enrolment.agent is None:
        return []
    lang = enrolment.language
    params: dict[str, object] = {
        "mutual": enrolment.mutual.sms_name,
        "id": enrolment.id,
        "name": (enrolment.head_name or "-")[:20],
        "reason": "",
    }
    reason = enrolment.decision_reason or ""
    room = room_left(render_sms("enrol_rejected", lang, params))
    params["reason"] = reason if len(reason) <= room else reason[: max(room - 3, 0)] + "..."
    message = queue_new_sms(
        session,
        dedupe_key=f"enrolment:{enrolment.id}:rejected",
        mutual_id=enrolment.mutual_id,
        phone=enrolment.agent.msisdn,
        template="enrol_rejected",
        language=lang,
        params=params,
        reason="agent",
    )
    if message is None:
        return []
    defer(session, "send-sms", str(message.id))
    return [message.id]


def _send(
    session: Session,
    enrolment: Enrolment,
    who: str,
    template: str,
    base: dict[str, object],
    cards: list[str],
    household_id: int | None,
    phone: str | None = None,
) -> list[int]:
    ids = []
    for i, chunk in enumerate(batches(template, enrolment.language, base, cards)):
        message = queue_new_sms(
            session,
            dedupe_key=f"enrolment:{enrolment.id}:{who}:{i}",
            mutual_id=enrolment.mutual_id,
            phone=phone or enrolment.head_phone or "",
            template=template if i == 0 else "enrol_cards",
            language=enrolment.language,
            params={**base, "cards": chunk},
            reason="agent" if who == "agent" else "other",
            household_id=household_id,
        )
        if message is not None:
            defer(session, "send-sms", str(message.id))
            ids.append(message.id)
    return ids
