"""The due list and the reminders run, streamed in bounded batches of households (issue 19),
give exactly what the whole-mutual computation gave (D6, D15-D18): same targets in the same
order, same skips, same occurrence rows and messages; and no batch holds more than its bound."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import (
    Allocation,
    Household,
    HouseholdPhone,
    OutboxMessage,
    ReminderOccurrence,
    Section,
)
from gateway.services import ledger
from gateway.services.coverage.book import load_book
from gateway.services.coverage.periods import Period, period_row
from gateway.services.ledger import posting
from gateway.services.reminders import due, targets
from gateway.services.reminders.due import run_reminders
from gateway.services.reminders.targets import Selection, iter_selections, select_targets
from tests.support.factories import add_beneficiary, make_household
from tests.support.reminders import FOR_PERIOD, WINDOW_OPENS, World, add_campaign, build

WHOLE = 10**9  # one batch: the whole mutual at once, as before streaming


def register(db: Session, size: int = 40, seed: int = 19) -> World:
    """The reminders world plus `size` households drawn at random: sections, languages,
    members, phones, consent and payments for the campaign's period vary."""
    world = build(db)
    rng = random.Random(seed)
    sections = list(db.scalars(select(Section).where(Section.mutual_id == world.mutual.id)))
    row = period_row(db, world.mutual.products[0], Period(FOR_PERIOD, dt.date(2027, 12, 31)))
    for n in range(size):
        phone = f"+2547001{n:05d}" if rng.random() < 0.85 else None
        made = make_household(db, world.mutual, members=rng.randint(1, 3), phone=phone)
        made.section_id = rng.choice(sections).id
        made.language = rng.choice(["fr", "en", None])
        made.reminders_enabled = rng.random() > 0.1
        if rng.random() < 0.25:  # paid for 2027, all or some of its members
            paid = made.beneficiaries[: rng.randint(1, len(made.beneficiaries))]
            for ben in paid:
                db.add(
                    Allocation(
                        mutual_id=world.mutual.id, household_id=made.id,
                        beneficiary_id=ben.id, period_id=row.id, kind="contribution",
                        member_amount=6000, allocated_on=dt.date(2026, 10, 20),
                        ledger_key=f"alloc:{ben.id}",
                    )
                )  # fmt: skip
    add_campaign(db, world, "ALL", [("opens", 0, "campaign_opening")])
    db.flush()
    return world


def merged(db: Session, world: World, batch: int) -> tuple[Selection, list[Selection]]:
    parts = list(iter_selections(db, world.mutual, world.campaign, WINDOW_OPENS.date(), batch))
    return Selection.merged(parts), parts


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_the_streamed_due_list_equals_the_whole_mutual_one(db: Session, batch: int) -> None:
    world = register(db)
    whole, single = merged(db, world, WHOLE)
    assert len(single) == 1
    streamed, parts = merged(db, world, batch)
    assert streamed == whole
    assert whole.targets and whole.skipped_paid and whole.skipped_consent  # a varied register
    assert select_targets(db, world.mutual, world.campaign, WINDOW_OPENS.date()) == whole
    for part in parts:  # bounded: no batch judges more than `batch` households
        assert len(part.targets) + part.skipped_paid + part.skipped_consent <= batch
    assert len(parts) >= (len(whole.targets) + whole.skipped_paid) // batch


def outcome(db: Session, batch: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """One run with batches of `batch` households, undone afterwards (a savepoint)."""
    monkeypatch.setattr(due, "BATCH", batch)
    nested = db.begin_nested()
    run = run_reminders(db, WINDOW_OPENS).as_dict()
    rows = sorted(
        (r.household_id, r.campaign_id, r.rule_id, r.due_at, r.status)
        for r in db.scalars(select(ReminderOccurrence))
    )
    messages = sorted(
        (m.household_id, m.phone, m.language, m.text, m.dedupe_key)
        for m in db.scalars(select(OutboxMessage))
    )
    nested.rollback()
    return run, rows, messages


def test_a_streamed_run_records_and_queues_what_the_whole_mutual_run_did(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """D15's one reminder a day per household holds across batches: a household's
    reminders of every campaign are judged in the same batch."""
    register(db)
    whole = outcome(db, WHOLE, monkeypatch)
    assert whole[0]["sent"] and whole[0]["skipped_daily"]  # two campaigns compete
    for batch in (1, 3, 10):
        assert outcome(db, batch, monkeypatch) == whole


def test_an_outside_window_rule_is_counted_once_whatever_the_batches(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(db, size=10)
    evening = dt.datetime(2026, 11, 2, 17, 30, tzinfo=dt.UTC)  # 20:30 in Nairobi
    counts = []
    for batch in (WHOLE, 2):
        monkeypatch.setattr(due, "BATCH", batch)
        counts.append(run_reminders(db, evening).outside_window)
    assert counts[0] == counts[1] == 2  # one per campaign-anchored rule due


def varied(db: Session, world: World, seed: int = 8) -> None:
    """Books of every shape next to the register's: credit, the 2026 period paid, a member
    who left, one enrolled after today, a registration fee; the due list's own paths (a book
    with no paid period; credits joined to a batch's ids) against the household's own."""
    world.mutual.products[0].registration_fee = 1000
    today = WINDOW_OPENS.date()
    rng = random.Random(seed)
    row = period_row(
        db, world.mutual.products[0], Period(dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    )
    households = db.scalars(select(Household).where(Household.mutual_id == world.mutual.id))
    for n, household in enumerate(households):
        if rng.random() < 0.3:
            amount = rng.choice([500, 6000, 40_000])
            posting.post(
                db, mutual_id=world.mutual.id, key=f"credit-{household.id}", kind="payment",
                occurred_on=dt.date(2026, 10, 1),
                lines=[("asset:cash", amount), (ledger.accounts.household(household.id), -amount)],
            )  # fmt: skip
        if rng.random() < 0.3:  # gone before today, gone after, gone undated, suspended
            status, left = rng.choice([("removed", dt.date(2026, 6, 30)),
                                       ("deceased", dt.date(2026, 12, 31)),
                                       ("removed", today), ("deceased", None),
                                       ("suspended", None)])  # fmt: skip
            add_beneficiary(db, household, dt.date(2024, 3, 1), status=status, left_on=left)
        if rng.random() < 0.1:
            household.dated_register = True
        if rng.random() < 0.3:  # D18: the primary phone, else the first one
            primary = rng.random() < 0.5
            for k in range(2):
                msisdn = f"+25471{household.id:05d}{k}"
                household.phones.append(HouseholdPhone(msisdn=msisdn, is_primary=primary and k))
        if rng.random() < 0.2:
            add_beneficiary(db, household, dt.date(2026, 12, 1))
        if rng.random() < 0.3:
            db.flush()
            for ben in household.beneficiaries[: rng.randint(1, 2)]:
                db.add(
                    Allocation(
                        mutual_id=world.mutual.id, household_id=household.id,
                        beneficiary_id=ben.id, period_id=row.id, kind="contribution",
                        member_amount=6000, allocated_on=dt.date(2026, 1, 10),
                        ledger_key=f"alloc26:{ben.id}:{n}",
                    )
                )  # fmt: skip
    db.flush()


def test_every_amount_in_the_due_list_is_the_households_own_d6_amount(db: Session) -> None:
    """D6, D15, D18: each household judged in a batch as on its own (load_book, amount_due,
    renewal_amount: what `gateway eligibility` shows), whatever its book's shape."""
    world = register(db, size=60)
    varied(db, world)
    today = WINDOW_OPENS.date()
    whole = select_targets(db, world.mutual, world.campaign, today)
    found = {t.household_id: (t.due, t.phone) for t in whole.targets}
    expected: dict[int, tuple[int, str | None]] = {}
    paid = consent = 0
    for household in db.scalars(
        select(Household).where(Household.product_id == world.campaign.product_id)
    ):
        sections = world.campaign.sections
        if sections and (household.section is None or household.section.name not in sections):
            continue
        book = load_book(db, household)
        if not targets.owes_period(book, world.campaign.for_period, today) or (
            (amount := targets.owed_amount(book, today)) == 0
        ):
            paid += 1
        elif not household.reminders_enabled:
            consent += 1
        else:
            phones = sorted(household.phones, key=lambda p: (not p.is_primary, p.id))
            expected[household.id] = (amount, phones[0].msisdn if phones else None)
    assert found == expected
    assert (whole.skipped_paid, whole.skipped_consent) == (paid, consent)
    assert (
        len({due for due, _ in found.values()}) > 3 and paid and consent
    )  # amounts of several shapes
    for batch in (1, 5):
        assert (
            Selection.merged(iter_selections(db, world.mutual, world.campaign, today, batch))
            == whole
        )


def test_batches_default_to_a_bound() -> None:
    assert 1000 <= targets.BATCH <= 20_000
    assert due.BATCH == targets.BATCH  # type: ignore[attr-defined]
