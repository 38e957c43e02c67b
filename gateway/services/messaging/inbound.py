"""Incoming SMS and opt-out notifications (messaging.md, D18): keywords, consent, replies.

A member texts a keyword to the mutual's short code or sender id: STOP/ARRET stops reminders for
every household linked to the phone, START/REPRENDRE turns them back on, AIDE/HELP answers the
help text, SOLDE/STATUT/STATUS answers each household's D12 summary. Keywords are read from the
first word, case- and accent-insensitive. Anything else gets the help text at most once per phone
per (local) day.

Idempotence: the inbound row is unique per (provider, provider id), so a redelivered SMS changes
nothing; the replies' dedupe keys derive from the provider id too, so even a replay that got
past the row (a crash between the two) queues each reply once.

Isolation: when the SMS's `to` is one mutual's sender id or service code, only that mutual's
households are read or changed; only when `to` names no mutual are all mutuals considered.
Nothing is sent here: replies are outbox rows the worker's sms-dispatch sends."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.clock import local_date
from gateway.lib.catalogs import DEFAULT_LANGUAGE, LANGUAGES
from gateway.lib.phones import mask_msisdn
from gateway.models import Household, HouseholdPhone, InboundSms, Mutual, OutboxMessage
from gateway.services.alerts import raise_alert
from gateway.services.coverage import standing_of, status_text
from gateway.services.messaging.outbox import queue_sms

log = logging.getLogger(__name__)
ALERT_DETAIL = 500  # characters of the reason kept in the alert

STOP, START, HELP, STATUS = "STOP", "START", "HELP", "STATUS"
# First word, accents dropped, upper-cased -> the keyword it means.
KEYWORDS: dict[str, str] = {
    "STOP": STOP,
    "ARRET": STOP,
    "START": START,
    "REPRENDRE": START,
    "AIDE": HELP,
    "HELP": HELP,
    "SOLDE": STATUS,
    "STATUT": STATUS,
    "STATUS": STATUS,
}
MAX_STATUS_REPLIES = 3  # SOLDE from a phone linked to many households: the first three only
REPLY_REASON = "other"


@dataclass(frozen=True)
class Inbound:
    """An incoming SMS as the handler read it; `from_phone` is E.164."""

    provider: str
    provider_id: str
    from_phone: str
    to: str
    text: str
    link_id: str | None = None
    network: str | None = None


@dataclass
class InboundResult:
    """What one delivery did: `new` is False for a redelivery (nothing done)."""

    new: bool
    keyword: str | None = None
    households_changed: int = 0
    replies: list[OutboxMessage] = field(default_factory=list)


def parse_keyword(text: str) -> str | None:
    """The keyword of an SMS (STOP, START, HELP, STATUS) or None: its first word, compared
    without case or accents (`arrêt`, `Stop.`, ` solde 1234`)."""
    words = text.split()
    if not words:
        return None
    decomposed = unicodedata.normalize("NFKD", words[0])
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    word = "".join(c for c in plain if c.isalnum()).upper()
    return KEYWORDS.get(word)


def mutuals_for(session: Session, to: str) -> list[Mutual]:
    """The mutuals an SMS sent to `to` may concern: those whose sender id or service codes
    are `to` when any is, otherwise every mutual."""
    mutuals = list(session.scalars(select(Mutual).order_by(Mutual.id)))
    wanted = to.strip().casefold()
    matched = [
        m
        for m in mutuals
        if wanted
        and (
            (m.sms_sender_id or "").strip().casefold() == wanted
            or any(code.strip().casefold() == wanted for code in m.service_codes or [])
        )
    ]
    return matched or mutuals


def households_for(session: Session, phone: str, mutual_ids: Sequence[int]) -> list[Household]:
    """Households linked to `phone` in the given mutuals, oldest first."""
    if not mutual_ids:
        return []
    query = (
        select(Household)
        .join(HouseholdPhone, HouseholdPhone.household_id == Household.id)
        .where(HouseholdPhone.msisdn == phone, Household.mutual_id.in_(mutual_ids))
        .order_by(Household.id)
        .distinct()
    )
    return list(session.scalars(query))


def set_reminders(households: Sequence[Household], enabled: bool, now: dt.datetime) -> int:
    """D18 consent for these households; only a real change is stamped. Returns the count."""
    changed = 0
    for household in households:
        if household.reminders_enabled != enabled:
            household.reminders_enabled = enabled
            household.reminders_changed_at = now
            changed += 1
    return changed


def apply_optout(
    session: Session, phone: str, *, now: dt.datetime, sender_id: str | None = None
) -> int:
    """The provider's opt-out notification: reminders off for every household with `phone`
    (in the mutual whose sender id is `sender_id`, when one is). Idempotent; returns how many
    households changed."""
    mutual_ids = [m.id for m in mutuals_for(session, sender_id or "")]
    changed = set_reminders(households_for(session, phone, mutual_ids), False, now)
    log.info("sms opt-out phone=%s households_changed=%s", mask_msisdn(phone), changed)
    return changed


def handle_inbound(session: Session, sms: Inbound, *, now: dt.datetime) -> InboundResult:
    """Record the SMS once and act on it; a redelivery (same provider id) does nothing."""
    keyword = parse_keyword(sms.text)
    row = InboundSms(
        provider=sms.provider,
        provider_id=sms.provider_id,
        from_phone=sms.from_phone,
        to=sms.to,
        text=sms.text,
        link_id=sms.link_id,
        network=sms.network,
        received_at=now,
        keyword=keyword,
        handled=False,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        log.info("inbound sms redelivered provider=%s id=%s", sms.provider, sms.provider_id)
        return InboundResult(new=False, keyword=keyword)
    result = InboundResult(new=True, keyword=keyword)
    mutuals = mutuals_for(session, sms.to)
    households = households_for(session, sms.from_phone, [m.id for m in mutuals])
    tag = _tag(sms)
    if not households:
        # An unknown phone: no household data changes, one help text a day at most.
        if len(mutuals) == 1:
            result.replies += _reply(session, mutuals[0], None, sms.from_phone, "help", {}, now)
    elif keyword in (STOP, START):
        result.households_changed = set_reminders(households, keyword == START, now)
        template = "optin_ack" if keyword == START else "optout_ack"
        for household in _first_per_mutual(households):
            key = f"in:{tag}:{template}:{household.mutual_id}"
            result.replies += _reply(
                session, household.mutual, household, sms.from_phone, template, {}, now, key
            )
    elif keyword == HELP:
        for household in _first_per_mutual(households):
            key = f"in:{tag}:help:{household.mutual_id}"
            result.replies += _reply(
                session, household.mutual, household, sms.from_phone, "help", {}, now, key
            )
    elif keyword == STATUS:
        for household in households[:MAX_STATUS_REPLIES]:
            params = status_params(session, household, now)
            key = f"in:{tag}:status:{household.id}"
            result.replies += _reply(
                session, household.mutual, household, sms.from_phone, "status", params, now, key
            )
    else:
        first = households[0]
        result.replies += _reply(session, first.mutual, first, sms.from_phone, "help", {}, now)
    row.handled = bool(result.replies or result.households_changed)
    log.info(
        "inbound sms phone=%s keyword=%s households=%s changed=%s replies=%s",
        mask_msisdn(sms.from_phone),
        keyword,
        len(households),
        result.households_changed,
        len(result.replies),
    )
    return result


def status_params(session: Session, household: Household, now: dt.datetime) -> dict[str, str]:
    """The `status` template's values: the D12 headline on the mutual's local date and the
    amount offered with the period it buys (D6b), in the words of the USSD screens."""
    lang = _language(household.mutual, household)
    found = standing_of(session, household, local_date(now, household.mutual.timezone))
    return {"household": household.number, "status": status_text(found, lang)}


def _reply(
    session: Session,
    mutual: Mutual,
    household: Household | None,
    phone: str,
    template: str,
    params: dict[str, str],
    now: dt.datetime,
    dedupe_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue one reply and return it, or nothing when its dedupe key is taken. Without a key
    it is the daily help (`help:<phone>:<local date>`). A reply that cannot be queued (a text
    over one segment) is logged, never raised."""
    key = dedupe_key or f"help:{phone}:{local_date(now, mutual.timezone).isoformat()}"
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
        return []  # already queued for this message (or today's help): nothing new
    values = {
        "mutual": mutual.sms_name,
        "contact": mutual.contact or "-",
        **params,
    }
    try:
        message = queue_sms(
            session,
            mutual_id=mutual.id,
            household_id=household.id if household else None,
            phone=phone,
            template=template,
            language=_language(mutual, household),
            params=values,
            reason=REPLY_REASON,
            dedupe_key=key,
        )
    except ValueError as exc:
        _reply_lost(session, mutual, template, phone, str(exc), now)
        return []
    return [message]


def _reply_lost(
    session: Session, mutual: Mutual, template: str, phone: str, reason: str, now: dt.datetime
) -> None:
    """A member asked and gets nothing: logged and alerted (once per mutual and template),
    never dropped in silence (issue 15); `gateway mutual load` refuses such a template."""
    log.error("sms reply %s not queued phone=%s: %s", template, mask_msisdn(phone), reason)
    raise_alert(
        session,
        kind="sms_reply_unsent",
        subject=f"{mutual.code}:{template}",
        detail=f"the {template!r} reply to members cannot be queued: {reason}"[:ALERT_DETAIL],
        now=now,
        mutual_id=mutual.id,
    )


def _first_per_mutual(households: Sequence[Household]) -> list[Household]:
    seen: dict[int, Household] = {}
    for household in households:
        seen.setdefault(household.mutual_id, household)
    return list(seen.values())


def _language(mutual: Mutual, household: Household | None) -> str:
    for lang in (household.language if household else None, mutual.default_language):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def _tag(sms: Inbound) -> str:
    """A short fixed-width digest of the provider message id, for dedupe keys."""
    return hashlib.sha256(f"{sms.provider}:{sms.provider_id}".encode()).hexdigest()[:24]
