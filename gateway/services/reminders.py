"""Campaign reminders (D14-D17; messaging.md, "Campaign reminders"): the occurrences due now.

For every mutual and every campaign open on the mutual's local date, each rule anchored on the
campaign's opening or closing (D15) has occurrence moments: the anchor day plus `offset_days`,
repeated every `repeat_every_days` until the campaign closes, each at the start of the sending
window (D16, `quiet_hours_end` local). Outside the window nothing is done; inside it, the latest
due occurrence is sent if its moment is within `catch_up_hours`, else recorded `missed`; older
occurrences still within `catch_up_hours` are recorded `missed` so a catch-up never floods a
member. Targets are the campaign's households (its sections, or all) that still owe its period
(D15), have not stopped reminders (D18) and have a phone.

D17: each (household, campaign, rule, occurrence) row is inserted with ON CONFLICT DO NOTHING
before its SMS is queued in the same transaction, so a second run or a concurrent worker sends
nothing twice. Rules anchored on `coverage_end` are not handled here."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from gateway.models import (
    Allocation,
    Beneficiary,
    Campaign,
    CoveragePeriod,
    Household,
    HouseholdPhone,
    Mutual,
    Product,
    ReminderOccurrence,
    ReminderRule,
    Section,
    Subsidy,
)
from gateway.services.catalogs import DEFAULT_LANGUAGE, LANGUAGES, ussd_messages
from gateway.services.notifications import queue_sms
from gateway.services.shares import Shares, shares_for

log = logging.getLogger(__name__)

ANCHORS = ("opens", "closes")  # coverage_end reminders are a separate job
MUTUAL_LABEL_LEN = 24  # as gateway.services.sms_inbound: the templates' longest mutual name
CHUNK = 500
T = TypeVar("T")


@dataclass
class ReminderRun:
    """What one run did, in households; outside_window counts the rules whose latest due
    occurrence (within catch-up, possibly already recorded) met quiet hours: nothing done."""

    sent: int = 0
    missed: int = 0
    skipped_consent: int = 0
    skipped_paid: int = 0
    skipped_no_phone: int = 0
    outside_window: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Occurrence:
    index: int
    due_at: dt.datetime  # UTC


@dataclass(frozen=True)
class Target:
    household_id: int
    number: str
    language: str
    phone: str | None
    due: int  # FCFA still owed for the campaign's period


def _zone(mutual: Mutual) -> ZoneInfo:
    try:
        return ZoneInfo(mutual.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_window(mutual: Mutual, local: dt.datetime) -> bool:
    """D16: between quiet_hours_end (window opens) and quiet_hours_start (window closes)."""
    opens, closes, at = mutual.quiet_hours_end, mutual.quiet_hours_start, local.time()
    if opens <= closes:
        return opens <= at < closes
    return at >= opens or at < closes


def occurrences(
    mutual: Mutual, campaign: Campaign, rule: ReminderRule, now: dt.datetime
) -> list[Occurrence]:
    """D15: the rule's occurrences whose moment is at or before `now`, oldest first."""
    anchor = campaign.opens_on if rule.anchor == "opens" else campaign.closes_on
    first = anchor + dt.timedelta(days=rule.offset_days)
    zone = _zone(mutual)
    found: list[Occurrence] = []
    index, day = 0, first
    while True:
        moment = dt.datetime.combine(day, mutual.quiet_hours_end, tzinfo=zone).astimezone(dt.UTC)
        if moment > now:
            break
        found.append(Occurrence(index, moment))
        if not rule.repeat_every_days:
            break
        index += 1
        day = first + dt.timedelta(days=index * rule.repeat_every_days)
        if day > campaign.closes_on:
            break
    return found


def run_reminders(session: Session, now: dt.datetime) -> ReminderRun:
    """D14-D17: record and queue every campaign reminder due at `now` (UTC, aware)."""
    if now.tzinfo is None:
        raise ValueError("run_reminders needs a timezone-aware datetime")
    now = now.astimezone(dt.UTC)
    run = ReminderRun()
    for mutual in list(session.scalars(select(Mutual).order_by(Mutual.id))):
        _run_mutual(session, mutual, now, run)
    return run


def _run_mutual(session: Session, mutual: Mutual, now: dt.datetime, run: ReminderRun) -> None:
    local = now.astimezone(_zone(mutual))
    today = local.date()
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.mutual_id == mutual.id, Campaign.opens_on <= today)
        .where(Campaign.closes_on >= today)
        .options(selectinload(Campaign.reminders))
        .order_by(Campaign.id)
    ).all()
    catch_up = dt.timedelta(hours=mutual.catch_up_hours)
    open_window = in_window(mutual, local)
    for campaign in campaigns:
        targets: list[Target] | None = None
        for rule in campaign.reminders:
            if rule.anchor not in ANCHORS:
                continue
            due = occurrences(mutual, campaign, rule, now)
            if not due:
                continue
            latest = due[-1]
            if not open_window:
                if now - latest.due_at <= catch_up:
                    run.outside_window += 1
                continue
            if targets is None:
                targets = _targets(session, mutual, campaign, today, run)
            older = [o for o in due[:-1] if now - o.due_at <= catch_up]
            for occurrence in older:
                run.missed += _record(session, campaign, rule, occurrence, targets, "missed", now)
            if now - latest.due_at > catch_up:
                run.missed += _record(session, campaign, rule, latest, targets, "missed", now)
            else:
                _send(session, mutual, campaign, rule, latest, targets, now, run)


def _targets(
    session: Session, mutual: Mutual, campaign: Campaign, today: dt.date, run: ReminderRun
) -> list[Target]:
    """D15/D18: the campaign's households still owing its period, reminders enabled."""
    query = select(
        Household.id,
        Household.number,
        Household.language,
        Household.reminders_enabled,
        Household.product_id,
        Household.category,
    ).where(Household.mutual_id == mutual.id)
    if campaign.sections:
        query = query.join(Section, Section.id == Household.section_id).where(
            Section.name.in_(campaign.sections)
        )
    rows = session.execute(query.order_by(Household.id)).all()
    unpaid = _unpaid_beneficiaries(session, mutual.id, campaign.for_period, today)
    shares = _shares(session, mutual.id)
    owing: list[tuple[int, str, str, int]] = []
    for household_id, number, language, enabled, product_id, category in rows:
        share = shares(product_id, category)
        count = unpaid.get(household_id, 0)
        if share.fully_subsidised or count == 0:
            run.skipped_paid += 1
            continue
        if not enabled:
            run.skipped_consent += 1
            continue
        owing.append(
            (household_id, number, _language(mutual, language), count * share.contribution_member)
        )
    phones = _phones(session, [row[0] for row in owing])
    return [
        Target(household_id, number, language, phones.get(household_id), due)
        for household_id, number, language, due in owing
    ]


def _unpaid_beneficiaries(
    session: Session, mutual_id: int, period_start: dt.date, today: dt.date
) -> dict[int, int]:
    """Household id -> active beneficiaries (D6, on `today`) not paid for the period starting on
    `period_start`, in one grouped query; a household absent here owes nothing."""
    period_ids = select(CoveragePeriod.id).where(CoveragePeriod.starts_on == period_start)
    active = and_(
        Beneficiary.mutual_id == mutual_id,
        Beneficiary.enrolled_on <= today,
        or_(
            Beneficiary.status.not_in(("removed", "deceased")),
            and_(Beneficiary.left_on.is_not(None), Beneficiary.left_on >= today),
        ),
    )
    paid = and_(
        Allocation.beneficiary_id == Beneficiary.id,
        Allocation.kind == "contribution",
        Allocation.period_id.in_(period_ids),
    )
    rows = session.execute(
        select(
            Beneficiary.household_id,
            func.count(func.distinct(Beneficiary.id)),
            func.count(func.distinct(Allocation.beneficiary_id)),
        )
        .outerjoin(Allocation, paid)
        .where(active)
        .group_by(Beneficiary.household_id)
    )
    return {hid: total - done for hid, total, done in rows if total > done}


def _shares(session: Session, mutual_id: int) -> _SharesCache:
    products = session.scalars(
        select(Product)
        .where(Product.mutual_id == mutual_id)
        .options(selectinload(Product.subsidies).selectinload(Subsidy.funder))
    )
    return _SharesCache({p.id: p for p in products})


class _SharesCache:
    def __init__(self, products: dict[int, Product]) -> None:
        self.products = products
        self.cache: dict[tuple[int, str], Shares] = {}

    def __call__(self, product_id: int, category: str) -> Shares:
        key = (product_id, category)
        if key not in self.cache:
            self.cache[key] = shares_for(self.products[product_id], category)
        return self.cache[key]


def _phones(session: Session, household_ids: Sequence[int]) -> dict[int, str]:
    """Household id -> its primary phone, else its first one."""
    found: dict[int, str] = {}
    for chunk in _chunks(household_ids):
        rows = session.execute(
            select(HouseholdPhone.household_id, HouseholdPhone.msisdn)
            .where(HouseholdPhone.household_id.in_(chunk))
            .order_by(HouseholdPhone.is_primary.desc(), HouseholdPhone.id)
        )
        for household_id, msisdn in rows:
            found.setdefault(household_id, msisdn)
    return found


def _language(mutual: Mutual, language: str | None) -> str:
    for lang in (language, mutual.default_language):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _insert(
    session: Session,
    campaign: Campaign,
    rule: ReminderRule,
    occurrence: Occurrence,
    rows: Sequence[tuple[int, str]],
    now: dt.datetime,
) -> dict[int, int]:
    """D17: insert (household, status) rows not yet recorded; ON CONFLICT DO NOTHING makes a
    concurrent run's rows win. Returns household id -> row id of the rows inserted here."""
    if not rows:
        return {}
    model = ReminderOccurrence
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted: dict[int, int] = {}
    for chunk in _chunks(rows):
        stmt = (
            insert(model)
            .values(
                [
                    {
                        "household_id": household_id,
                        "campaign_id": campaign.id,
                        "rule_id": rule.id,
                        "occurrence": occurrence.index,
                        "due_at": occurrence.due_at,
                        "status": status,
                        "created_at": now,
                    }
                    for household_id, status in chunk
                ]
            )
            .on_conflict_do_nothing(
                index_elements=["household_id", "campaign_id", "rule_id", "occurrence"]
            )
            .returning(model.household_id, model.id)
        )
        inserted.update({hid: rid for hid, rid in session.execute(stmt)})
    return inserted


def _unrecorded(
    session: Session,
    campaign: Campaign,
    rule: ReminderRule,
    occurrence: Occurrence,
    targets: Sequence[Target],
) -> list[Target]:
    """The targets with no row yet for this occurrence (checked in bulk)."""
    recorded = set(
        session.scalars(
            select(ReminderOccurrence.household_id).where(
                ReminderOccurrence.campaign_id == campaign.id,
                ReminderOccurrence.rule_id == rule.id,
                ReminderOccurrence.occurrence == occurrence.index,
            )
        )
    )
    return [t for t in targets if t.household_id not in recorded]


def _record(
    session: Session,
    campaign: Campaign,
    rule: ReminderRule,
    occurrence: Occurrence,
    targets: Sequence[Target],
    status: str,
    now: dt.datetime,
) -> int:
    todo = _unrecorded(session, campaign, rule, occurrence, targets)
    rows = [(t.household_id, status) for t in todo]
    return len(_insert(session, campaign, rule, occurrence, rows, now))


def _send(
    session: Session,
    mutual: Mutual,
    campaign: Campaign,
    rule: ReminderRule,
    occurrence: Occurrence,
    targets: Sequence[Target],
    now: dt.datetime,
    run: ReminderRun,
) -> None:
    todo = _unrecorded(session, campaign, rule, occurrence, targets)
    rows = [(t.household_id, "sent" if t.phone else "skipped") for t in todo]
    inserted = _insert(session, campaign, rule, occurrence, rows, now)
    closes = campaign.closes_on.strftime("%d/%m/%Y")
    links: list[dict[str, object]] = []
    for target in todo:
        row_id = inserted.get(target.household_id)
        if row_id is None:
            continue  # recorded by a concurrent run
        if target.phone is None:
            run.skipped_no_phone += 1
            continue
        texts = ussd_messages(target.language)
        grouped = f"{target.due:,}".replace(",", texts["thousands_sep"])
        amount = texts["amount"].format(value=grouped)
        key = f"reminder:{target.household_id}:{campaign.id}:{rule.id}:{occurrence.index}"
        try:
            message = queue_sms(
                session,
                mutual_id=mutual.id,
                household_id=target.household_id,
                phone=target.phone,
                template=rule.template,
                language=target.language,
                params={
                    "mutual": mutual.name[:MUTUAL_LABEL_LEN],
                    "campaign": campaign.name,
                    "household": target.number,
                    "amount": amount,
                    "due": amount,
                    "closes": closes,
                    "until": closes,
                },
                reason="reminder",
                dedupe_key=key,
            )
        except ValueError:
            log.exception("reminder %s not queued", key)
            links.append({"id": row_id, "status": "skipped"})
            continue
        session.flush()
        links.append({"id": row_id, "outbox_id": message.id})
        run.sent += 1
    for link in links:
        values = {k: v for k, v in link.items() if k != "id"}
        session.execute(
            update(ReminderOccurrence)
            .where(ReminderOccurrence.id == link["id"])
            .values(**values)
            .execution_options(synchronize_session=False)
        )
