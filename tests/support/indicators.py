"""The fixed scenario of issue 17's acceptance test: union UNI of mutuals MA (sections Nord,
Sud) and MB (section Est), yearly product of 6 000 XOF per beneficiary, an `indigent`
category fully paid by funder ETAT, a campaign a year, payments by every channel, a departure
and a death. Rows are written directly so that every figure can be counted by hand."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from gateway.models import (
    Agent,
    Allocation,
    Campaign,
    CoveragePeriod,
    FacilityCheck,
    Household,
    Mutual,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentIntent,
    ReminderOccurrence,
    ReminderRule,
    Section,
    Union,
)
from tests.support.factories import add_beneficiary, make_mutual

D = dt.date
TODAY = D(2026, 3, 15)
_seq = itertools.count(1)


@dataclass
class Scenario:
    union: Union
    a: Mutual
    b: Mutual
    sections: dict[str, Section]
    households: dict[str, Household] = field(default_factory=dict)
    periods: dict[tuple[str, int], CoveragePeriod] = field(default_factory=dict)


def _mutual(
    db: Session, code: str, union: Union, names: list[str]
) -> tuple[Mutual, dict[str, Section]]:
    mutual = make_mutual(db, code, subsidies=[("indigent", 0, f"ETAT{code}")])
    mutual.union_id = union.id
    sections = {name: Section(mutual=mutual, name=name) for name in names}
    db.add_all(sections.values())
    db.flush()
    return mutual, sections


def build(db: Session) -> Scenario:
    union = Union(code="UNI", name="Union")
    db.add(union)
    db.flush()
    a, sa = _mutual(db, "MA", union, ["Nord", "Sud"])
    b, sb = _mutual(db, "MB", union, ["Est"])
    s = Scenario(union, a, b, {**sa, **sb})
    for mutual in (a, b):
        for year in (2025, 2026):
            cp = CoveragePeriod(
                product_id=mutual.products[0].id, starts_on=D(year, 1, 1), ends_on=D(year, 12, 31)
            )
            db.add(cp)
            s.periods[(mutual.code, year)] = cp
    db.flush()
    _register(db, s)
    _money(db, s)
    _campaigns(db, s)
    _messages_and_checks(db, s)
    db.flush()
    return s


def household(
    db: Session, s: Scenario, name: str, mutual: Mutual, section: str, category: str = "standard"
) -> Household:
    number = f"H{next(_seq):04d}"
    h = Household(
        mutual=mutual,
        number=number,
        digits=str(next(_seq)),
        category=category,
        product=mutual.products[0],
        section=s.sections[section],
        language="fr",
    )
    db.add(h)
    db.flush()
    s.households[name] = h
    return h


def _register(db: Session, s: Scenario) -> None:
    a, b = s.a, s.b
    h1 = household(db, s, "H1", a, "Nord")
    for _ in range(2):
        add_beneficiary(db, h1, D(2024, 12, 1))
    h2 = household(db, s, "H2", a, "Nord")
    for _ in range(2):
        add_beneficiary(db, h2, D(2024, 12, 1))
    add_beneficiary(db, h2, D(2024, 12, 1), status="removed", left_on=D(2025, 6, 30))
    h3 = household(db, s, "H3", a, "Nord", category="indigent")
    add_beneficiary(db, h3, D(2025, 3, 10))
    h4 = household(db, s, "H4", a, "Sud")
    for _ in range(2):
        add_beneficiary(db, h4, D(2025, 2, 1))
    h5 = household(db, s, "H5", a, "Sud")
    add_beneficiary(db, h5, D(2024, 6, 1))
    h6 = household(db, s, "H6", a, "Sud")
    add_beneficiary(db, h6, D(2024, 6, 1), status="deceased", left_on=D(2025, 11, 20))
    h7 = household(db, s, "H7", b, "Est")
    for _ in range(2):
        add_beneficiary(db, h7, D(2025, 1, 15))
    h8 = household(db, s, "H8", b, "Est")
    add_beneficiary(db, h8, D(2026, 2, 1))


def allocate(
    db: Session, s: Scenario, name: str, year: int, count: int, on: dt.date, funder: bool = False
) -> None:
    """`count` of the household's beneficiaries (first ones) paid for `year`."""
    h = s.households[name]
    cp = s.periods[(h.mutual.code, year)]
    for ben in h.beneficiaries[:count]:
        db.add(
            Allocation(
                mutual_id=h.mutual_id,
                household_id=h.id,
                beneficiary_id=ben.id,
                period_id=cp.id,
                kind="contribution",
                member_amount=0 if funder else 6000,
                funder_amount=6000 if funder else 0,
                allocated_on=on,
                ledger_key=f"alloc-{next(_seq)}",
            )
        )
    db.flush()


def pay(
    db: Session,
    s: Scenario,
    name: str,
    amount: int,
    on: dt.date,
    channel: str,
    provider: str | None = None,
) -> Payment:
    h = s.households[name]
    payment = Payment(
        mutual_id=h.mutual_id,
        household_id=h.id,
        amount=amount,
        paid_on=on,
        channel=channel,
        reference=f"ref-{next(_seq)}",
        ledger_key=f"pay-{next(_seq)}",
    )
    db.add(payment)
    db.flush()
    if provider is not None:
        db.add(
            PaymentIntent(
                mutual_id=h.mutual_id,
                household_id=h.id,
                reference=f"{next(_seq):036d}",
                provider=provider,
                msisdn="+22670000000",
                amount=amount,
                state="SUCCEEDED",
                payment_id=payment.id,
                expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            )
        )
    db.flush()
    return payment


def _money(db: Session, s: Scenario) -> None:
    pay(db, s, "H6", 6000, D(2025, 1, 10), "legacy")
    pay(db, s, "H1", 12000, D(2025, 1, 20), "cash")
    pay(db, s, "H2", 18000, D(2025, 2, 5), "mobile", "sandbox")
    pay(db, s, "H4", 12000, D(2025, 3, 1), "bank")
    pay(db, s, "H7", 12000, D(2025, 1, 20), "mobile", "cinetpay")
    pay(db, s, "H1", 12000, D(2026, 1, 10), "cash")
    pay(db, s, "H2", 6000, D(2026, 1, 12), "mobile", "sandbox")
    pay(db, s, "H7", 6000, D(2026, 1, 15), "mobile", "cinetpay")
    pay(db, s, "H8", 6000, D(2026, 2, 10), "bank")
    allocate(db, s, "H1", 2025, 2, D(2025, 1, 20))
    allocate(db, s, "H2", 2025, 3, D(2025, 2, 5))
    allocate(db, s, "H3", 2025, 1, D(2025, 3, 10), funder=True)
    allocate(db, s, "H4", 2025, 2, D(2025, 3, 1))
    allocate(db, s, "H6", 2025, 1, D(2025, 1, 10))
    allocate(db, s, "H7", 2025, 2, D(2025, 1, 20))
    allocate(db, s, "H1", 2026, 2, D(2026, 1, 10))
    allocate(db, s, "H2", 2026, 1, D(2026, 1, 12))
    allocate(db, s, "H3", 2026, 1, D(2026, 1, 1), funder=True)
    allocate(db, s, "H7", 2026, 1, D(2026, 1, 15))
    allocate(db, s, "H8", 2026, 1, D(2026, 2, 10))


def _campaigns(db: Session, s: Scenario) -> None:
    product = s.a.products[0]
    for year in (2025, 2026):
        campaign = Campaign(
            mutual=s.a,
            product=product,
            code=f"C{year}",
            name=f"Campagne {year}",
            opens_on=D(year, 1, 5),
            closes_on=D(year, 2, 28),
            for_period=D(year, 1, 1),
        )
        db.add(campaign)
        db.flush()
        if year == 2026:
            rule = ReminderRule(
                campaign=campaign, anchor="opens", offset_days=1, template="campaign_open"
            )
            db.add(rule)
            db.flush()
            for name in ("H1", "H2", "H3", "H4", "H5"):
                db.add(
                    ReminderOccurrence(
                        household_id=s.households[name].id,
                        campaign_id=campaign.id,
                        rule_id=rule.id,
                        occurrence=0,
                        due_at=dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC),
                        status="sent",
                        sent_on=D(2026, 1, 6),
                    )
                )


def _messages_and_checks(db: Session, s: Scenario) -> None:
    at = dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC)
    texts = [("x" * 100, OutboxStatus.DELIVERED)] * 3 + [
        ("y" * 200, OutboxStatus.DELIVERED),
        ("z" * 100, OutboxStatus.SENT),
        ("w" * 100, OutboxStatus.FAILED),
    ]
    for text, status in texts:
        db.add(
            OutboxMessage(
                mutual_id=s.a.id,
                phone="+22670000001",
                template="t",
                language="fr",
                text=text,
                reason="reminder",
                status=status,
                created_at=at,
            )
        )
    agent = Agent(mutual=s.a, msisdn="+22670000002", name="Agent", role="facility", pin_hash="x")
    db.add(agent)
    db.flush()
    checks = [("CSPS Nord", "COVERED")] * 2 + [
        ("CSPS Nord", "NOT_COVERED"),
        ("CSPS Sud", "COVERED"),
    ]
    for facility, answer in checks:
        db.add(
            FacilityCheck(
                mutual_id=s.a.id,
                agent_id=agent.id,
                facility=facility,
                card_number="X",
                checked_on=D(2026, 2, 3),
                checked_at=dt.datetime(2026, 2, 3, 10, tzinfo=dt.UTC),
                status=answer,
                key=f"chk-{next(_seq)}",
            )
        )
