"""The demo mutual (`gateway demo`, `make run`): gateway/demo/demo.toml plus about a hundred
generated households with mixed payment histories, loaded through the same imports as real
data. Seeded, so every run builds the same rows; idempotent, so a second run adds nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Agent, Beneficiary, Household, Mutual
from gateway.services.agents import add_agent
from gateway.services.coverage import allocate, next_period, period_holding
from gateway.services.members import COLUMNS, ImportReport, import_members
from gateway.services.mutuals import load_mutual
from gateway.services.payments import PaymentsReport, import_payments

CODE, FIRST_HOUSEHOLD = "DEMO", 10001
CONTRIBUTION, FEE = 7000, 1000  # as in demo.toml
SHARE = {"standard": 100, "subsidised": 50, "indigent": 0}  # member_share, as in demo.toml
AGENTS = (  # phone, name, role, PIN, section: printed by `gateway demo`
    ("+22670000001", "Ali Kaboré", "collector", "2580", "Koudougou"),
    ("+22670000002", "Infirmier du CSPS de Reo", "facility", "1470", "Reo"),
    ("+22670000003", "Rasmata Zongo", "supervisor", "3690", None),
)
# Payment history -> households out of 100 (see _history).
PROFILES = {
    "regular": 35,
    "subsidised": 10,
    "lapsed": 15,
    "partial": 8,
    "never": 10,
    "new": 14,
    "indigent": 8,
}
FAMILIES = tuple(
    str.split("""Ouedraogo Sawadogo Kaboré Traoré Diallo Coulibaly Keïta Ndiaye Diop Fall Sow
    Konaté Zongo Compaoré Ilboudo Zoungrana Bamogo Yaméogo Nikiéma Bationo Dupont Martin""")
)
MEN = tuple(str.split("Ousmane Issa Moussa Seydou Adama Boukary Salif Hamidou Souleymane Jean"))
WOMEN = tuple(str.split("Aminata Fatoumata Awa Mariam Rasmata Salimata Kadiatou Assita Aïssata"))
SECTIONS = ("Koudougou", "Reo", "Sabou", "Poa")


@dataclass
class DemoReport:
    mutual: str
    members: ImportReport
    payments: PaymentsReport
    automatic_allocations: int = 0
    agents_created: int = 0
    agents: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def created(self) -> int:
        """Rows this run added: 0 on a second run."""
        m = self.members
        added = (m.households_created, m.beneficiaries_created, self.payments.created)
        return sum(added) + self.automatic_allocations + self.agents_created

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created": self.created}


@dataclass
class _Family:
    number: str
    profile: str
    category: str
    enrolled_on: dt.date
    surname: str
    head_sex: str
    rows: list[dict[str, str]] = field(default_factory=list)
    leaving: dict[int, dt.date] = field(default_factory=dict)  # row index -> left_on

    def active_on(self, day: dt.date) -> int:
        return sum(1 for i in range(len(self.rows)) if self.leaving.get(i, day) >= day)


def load_demo(session: Session, today: dt.date, seed: int = 42) -> DemoReport:
    """Load the demo mutual, its members, their payments and one agent per role."""
    text = resources.files("gateway.demo").joinpath("demo.toml").read_text(encoding="utf-8")
    mutual = load_mutual(session, text)
    year = _anchor_year(session, mutual, today)
    families = _families(random.Random(seed), year)
    # The demo's register dates each household's category from its enrolment (as a register
    # with dated indigence certificates would, D3): its history was recorded back then.
    members = import_members(session, mutual, _members_csv(families), today=dt.date(year - 2, 1, 1))
    payments = import_payments(session, mutual, _payments_csv(families, year), today=today)
    report = DemoReport(CODE, members, payments)
    report.automatic_allocations = _allocate_subsidised(session, mutual, families, today)
    for phone, name, role, pin, section in AGENTS:
        known = session.scalars(select(Agent.id).where(Agent.msisdn == phone)).first()
        add_agent(session, mutual, phone=phone, name=name, role=role, pin=pin, section=section)
        report.agents_created += known is None
        shown = {"phone": phone, "name": name, "role": role, "pin": pin}
        report.agents.append({**shown, "section": section})
    return report


def _anchor_year(session: Session, mutual: Mutual, today: dt.date) -> int:
    """The coverage year the demo's dates hang on: today's, or the one of the first load (its
    first household joined two years before), so that a run in a later year adds nothing."""
    query = (
        select(Beneficiary.enrolled_on)
        .join(Household)
        .where(Household.mutual_id == mutual.id, Household.number == str(FIRST_HOUSEHOLD))
        .order_by(Beneficiary.id)
    )
    first = session.scalars(query).first()
    return first.year + 2 if first is not None else today.year


def _families(rng: random.Random, year: int) -> list[_Family]:
    profiles = [name for name, count in PROFILES.items() for _ in range(count)]
    rng.shuffle(profiles)
    profiles.remove("regular")
    profiles.insert(0, "regular")  # the first household anchors the years (_anchor_year)
    phones: list[str] = []
    return [_family(rng, year, FIRST_HOUSEHOLD + i, p, phones) for i, p in enumerate(profiles)]


def _family(rng: random.Random, year: int, number: int, profile: str, phones: list[str]) -> _Family:
    """A household of 1 to 7; those who joined two years ago may have lost a dependant."""
    joined = year - 1 if profile in ("new", "never") else year - 2
    enrolled = dt.date(joined, 9, 1) + dt.timedelta(days=rng.randint(0, 60))
    category = profile if profile in ("subsidised", "indigent") else "standard"
    head_sex = "M" if rng.random() < 0.8 else "F"
    family = _Family(str(number), profile, category, enrolled, rng.choice(FAMILIES), head_sex)
    size = rng.choice([1, 2, 3, 3, 4, 4, 5, 5, 6, 7])
    relations = ["head"] + (["spouse"] if head_sex == "M" and size > 1 else [])
    relations += ["parent"] if size > 3 and rng.random() < 0.2 else []
    relations += ["child"] * (size - len(relations))
    family.rows = [_member(rng, family, i, rel, phones) for i, rel in enumerate(relations)]
    if joined == year - 2 and size > 1 and rng.random() < 0.15:
        index = rng.randrange(1, size)
        left = dt.date(year - 1, 3, 1) + dt.timedelta(days=rng.randint(0, 180))
        family.leaving[index] = left
        family.rows[index] |= {"status": rng.choice(["removed", "deceased"])}
        family.rows[index] |= {"left_on": left.isoformat()}
    return family


def _member(
    rng: random.Random, family: _Family, i: int, relation: str, phones: list[str]
) -> dict[str, str]:
    """One CSV row; spouses and parents keep their own family name, as is usual."""
    sex = {"head": family.head_sex, "spouse": "F"}.get(relation) or rng.choice("MF")
    given = rng.choice(MEN if sex == "M" else WOMEN)
    surname = rng.choice(FAMILIES) if relation in ("spouse", "parent") else family.surname
    born = {"head": (1955, 1995), "spouse": (1960, 2000), "parent": (1935, 1955)}.get(
        relation, (2002, family.enrolled_on.year - 1)
    )
    birth = dt.date(rng.randint(*born), rng.randint(1, 12), rng.randint(1, 28))
    row = {"household_number": family.number, "member_number": f"{family.number}{i + 1:02d}"}
    row |= {"full_name": f"{given} {surname}", "sex": sex, "birth_date": birth.isoformat()}
    row |= {"relationship": relation, "enrolled_on": family.enrolled_on.isoformat()}
    if relation == "head":
        row |= {"phone": _phone(rng, phones), "category": family.category}
        row |= {"section": rng.choice(SECTIONS), "language": rng.choice(["", "", "", "en"])}
    elif rng.random() < 0.1:
        row["phone"] = _phone(rng, phones)
    return row


def _phone(rng: random.Random, phones: list[str]) -> str:
    """A BF mobile number in one of the notations registers use; now and then one already
    given (a phone shared by two households)."""
    if phones and rng.random() < 0.04:
        return rng.choice(phones)
    digits = f"7{rng.choice('1256789')}{rng.randint(0, 999_999):06d}"
    spaced = " ".join(digits[i : i + 2] for i in range(0, 8, 2))
    phone = rng.choice([digits, spaced, f"+226{digits}", f"00226 {spaced}"])
    phones.append(phone)
    return phone


def _members_csv(families: list[_Family]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for family in families for row in family.rows)
    return out.getvalue()


def _payments_csv(families: list[_Family], year: int) -> str:
    """Payments dated before this coverage year, so that the history never moves with today:
    last year's bought in the post-harvest campaign two years ago, this year's last autumn."""
    rng = random.Random(year)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("household_number", "amount", "paid_on", "channel", "reference"))
    count = 0
    for family in families:
        for amount, day, channel in _history(rng, family, year):
            count += 1
            writer.writerow(
                (family.number, amount, day.isoformat(), channel, f"DEMO-LEG-{count:06d}")
            )
    return out.getvalue()


def _history(rng: random.Random, family: _Family, year: int) -> list[tuple[int, dt.date, str]]:
    pct = SHARE[family.category]
    share, fee = -(-CONTRIBUTION * pct // 100), -(-FEE * pct // 100)
    first = dt.date(year - 2, 11, 5) + dt.timedelta(days=rng.randint(0, 45))
    renewal = dt.date(year - 1, 11, 5) + dt.timedelta(days=rng.randint(0, 45))
    channel = rng.choice(["cash", "mobile"])
    if family.profile in ("never", "indigent"):
        return []
    if family.profile == "new":
        return [(fee + share * family.active_on(renewal), renewal, channel)]
    history = [(fee + share * family.active_on(first), first, "legacy")]
    due = share * family.active_on(renewal)
    if family.profile in ("regular", "subsidised"):
        history.append((due, renewal, channel))
    elif family.profile == "partial":
        history.append((max(500, due // 2 // 500 * 500), renewal, channel))
    return history


def _allocate_subsidised(
    session: Session, mutual: Mutual, families: list[_Family], today: dt.date
) -> int:
    """Fully subsidised households are paid by their funder without any payment (D3): the
    demo replays the daily job on each period's first day since they joined, then today."""
    numbers = [f.number for f in families if SHARE[f.category] == 0]
    query = select(Household).where(Household.mutual_id == mutual.id, Household.number.in_(numbers))
    made = 0
    for household in session.scalars(query):
        first = min(f.enrolled_on for f in families if f.number == household.number)
        period = period_holding(household.product, first)
        while period.start <= today:
            day = max(period.start, first)
            made += len(allocate(session, household, on=day, made_on=day))
            period = next_period(household.product, period)
        made += len(allocate(session, household, on=today))
    return made
