"""The members import's writes (issue 15: bounded memory): the staging table is read back in
keyed chunks of `chunk` rows, each joined with the mutual's matching rows, compared, counted
and (unless a dry run) written as chunked ORM bulk INSERT/UPDATE statements. Households first
(the heads' lines), then beneficiaries (every line), so that a new member finds its household's
id; neither the file nor the register is ever whole in memory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.orm import Session

from gateway.models import Beneficiary, Household, HouseholdEvent, HouseholdPhone
from gateway.services.members.diff import (
    EventSink,
    Pending,
    member_events,
    new_member_events,
    product_code,
)
from gateway.services.members.staging import STAGE, TOUCHED

BEN_FIELDS = ("full_name", "sex", "birth_date", "relation", "status", "enrolled_on", "left_on")
HOME_FIELDS = ("category", "language", "section_id", "product_id")

Links = list[tuple[str, bool]]
S = STAGE.c


@dataclass
class Upsert:
    """What the import writes; `write` False (a dry run) counts the same without writing."""

    session: Session
    mutual_id: int
    today: dt.date  # the day a new or changed category takes effect (D3)
    chunk: int
    write: bool
    sink: EventSink | None = None  # records the changes as D23 events (None: a dry run)
    # Households this import creates (their members are inserted in bulk, not "added").
    created: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "households_created", "households_updated", "households_unchanged",
                "beneficiaries_created", "beneficiaries_updated", "beneficiaries_unchanged",
            ),
            0,
        )
    )  # fmt: skip

    def run(self) -> dict[str, int]:
        """Households, then beneficiaries; the report's counts."""
        homes: list[Pending] = []
        for rows in self._chunks(self._heads_query()):
            homes += self._households(rows)
        for rows in self._chunks(self._members_query()):
            self._record(self._members(rows))
        self._record(homes)  # after the members: a new head is registered by then
        self._expire()
        return self.counts

    def _expire(self) -> None:
        if self.write:
            for obj in list(self.session.identity_map.values()):
                if isinstance(obj, Household | Beneficiary | HouseholdPhone):
                    self.session.expire(obj)  # bulk statements bypass the objects loaded

    def _record(self, pending: list[Pending]) -> None:
        """D23: the chunk's changes recorded as events once its bulk writes are done."""
        if self.sink is not None and pending:
            self._expire()
            self.sink.apply(pending)

    def _chunks(self, query: Select[Any]) -> Iterator[list[Any]]:
        """The query's rows, `chunk` at a time, keyed on the staged line."""
        last = 0
        while rows := list(self.session.execute(query.where(S.line > last).limit(self.chunk))):
            yield rows
            last = rows[-1].line

    def _heads_query(self) -> Select[Any]:
        columns = (
            S.line, S.household, S.h_digits, S.enrolled_on, *(S[name] for name in HOME_FIELDS)
        )  # fmt: skip
        return select(*columns).where(S.ok, S.is_head).order_by(S.line)

    def _registered(self, model: Any, numbers: list[str], *columns: Any) -> dict[str, Any]:
        """The mutual's rows of `model` with these numbers, by number (one keyed query: the
        register is never joined whole to the staged rows, whose plan would go stale as the
        import fills the tables)."""
        query = select(model.number, model.id, *columns).where(
            model.mutual_id == self.mutual_id, model.number.in_(sorted(set(numbers)))
        )
        return {row.number: row for row in self.session.execute(query)}

    def _households(self, heads: list[Any]) -> list[Pending]:
        h = Household
        olds = self._registered(
            h, [head.household for head in heads], *(getattr(h, name) for name in HOME_FIELDS)
        )
        ids = {number: old.id for number, old in olds.items()}
        links, old_links = self._links(heads[0].line, heads[-1].line, list(ids.values()))
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        resets: list[int] = []
        phones: dict[str, Links] = {}
        touched: set[int] = set()
        events: list[Pending] = []
        enrolled = {head.household: head.enrolled_on for head in heads}
        for head in heads:
            values = {"number": head.household, "digits": head.h_digits}
            values.update((name, head._mapping[name]) for name in HOME_FIELDS)
            old = olds.get(head.household)
            if old is None:
                new.append({"mutual_id": self.mutual_id, **values, "category_since": self.today})
                phones[head.household] = links[head.household]
                continue
            differs = any(old._mapping[name] != values[name] for name in HOME_FIELDS)
            if differs:
                events += self._home_events(head.line, old, values)
                changed.append({"id": old.id, **values})
                touched.add(old.id)
            if set(links[head.household]) != old_links.get(old.id, set()):
                resets.append(old.id)
                phones[head.household] = links[head.household]
                differs = True
            self.counts["households_updated"] += differs
            self.counts["households_unchanged"] += not differs
        self.counts["households_created"] += len(new)
        if self.write:
            self._write_households(new, changed, ids)
            self._write_phones(resets, phones, ids)
            created = {ids[values["number"]]: enrolled[values["number"]] for values in new}
            self.created.update(created)
            self._enrolled(created)
            self._touch(touched | set(created))
        return events

    def _home_events(self, line: int, old: Any, values: dict[str, Any]) -> list[Pending]:
        """D23: a new category (from today, D3) or product (at a period boundary) is an
        event; the household's row keeps the register's until the event changes it."""
        events: list[Pending] = []
        if old.category != values["category"]:
            data = {"category": values["category"]}
            events.append(Pending(line, old.id, "category", self.today, None, data))
            values["category"] = old.category
        if old.product_id != values["product_id"]:
            code = product_code(self.session, values["product_id"])
            events.append(Pending(line, old.id, "product", self.today, None, {"product": code}))
            values["product_id"] = old.product_id
        return events

    def _enrolled(self, created: dict[int, dt.date]) -> None:
        """D23: one `enrol` event per household the file creates (in bulk: first loads)."""
        if not created or self.sink is None:
            return
        sink = self.sink
        rows = [
            {
                "mutual_id": self.mutual_id,
                "household_id": household_id,
                "beneficiary_id": None,
                "type": "enrol",
                "effective_on": on,
                "payload": {"source": "members import"},
                "reason": "members import",
                "recorded_by": sink.by,
                "recorded_at": sink.now,
                "key": f"{household_id}:1",
            }
            for household_id, on in sorted(created.items())
        ]
        self.session.execute(insert(HouseholdEvent), rows)

    def _links(
        self, first: int, last: int, registered: list[int]
    ) -> tuple[dict[str, Links], dict[int, set[Any]]]:
        """The chunk's households' phones from the file (the head's first, the first one
        primary, then other members' in line order) and from the register."""
        heads = select(S.household).where(S.ok, S.is_head, S.line.between(first, last))
        query = select(S.household, S.phones, S.is_head).where(S.ok, S.household.in_(heads))
        rows = list(self.session.execute(query.order_by(S.line)))
        found: dict[str, dict[str, bool]] = {}
        for row in sorted(rows, key=lambda row: not row.is_head):  # stable: heads first
            given = found.setdefault(row.household, {})
            for i, msisdn in enumerate(part for part in row.phones.split(";") if part):
                given.setdefault(msisdn, row.is_head and i == 0)
        p = HouseholdPhone
        old: dict[int, set[Any]] = {}
        query = select(p.household_id, p.msisdn, p.is_primary)
        query = query.where(p.household_id.in_(registered))
        for household_id, msisdn, primary in self.session.execute(query):
            old.setdefault(household_id, set()).add((msisdn, primary))
        return {number: list(given.items()) for number, given in found.items()}, old

    def _write_households(
        self, new: list[dict[str, Any]], changed: list[dict[str, Any]], ids: dict[str, int]
    ) -> None:
        returning = insert(Household).returning(Household.id, Household.number)
        if new:
            ids.update((number, id_) for id_, number in self.session.execute(returning, new))
        if changed:
            self.session.execute(update(Household), changed)

    def _write_phones(
        self, resets: list[int], phones: dict[str, Links], ids: dict[str, int]
    ) -> None:
        if resets:
            gone = delete(HouseholdPhone).execution_options(synchronize_session=False)
            self.session.execute(gone.where(HouseholdPhone.household_id.in_(resets)))
        rows = [
            {"household_id": ids[number], "msisdn": msisdn, "is_primary": primary}
            for number, links in phones.items()
            for msisdn, primary in links
        ]
        if rows:
            self.session.execute(insert(HouseholdPhone), rows)

    def _members_query(self) -> Select[Any]:
        columns = (S.line, S.number, S.m_digits, S.household, *(S[name] for name in BEN_FIELDS))
        return select(*columns).where(S.ok).order_by(S.line)

    def _members(self, rows: list[Any]) -> list[Pending]:
        events: list[Pending] = []
        updated = 0
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        touched: set[int] = set()
        b = Beneficiary
        fields = [getattr(b, name) for name in BEN_FIELDS]
        olds = self._registered(b, [row.number for row in rows], *fields)
        homes = self._registered(Household, [row.household for row in rows])
        for row in rows:
            mine, old = list(row[4:]), olds.get(row.number)
            if old is not None and tuple(mine) == tuple(old[2:]):
                self.counts["beneficiaries_unchanged"] += 1
                continue
            values = {"number": row.number, "digits": row.m_digits}
            values.update(zip(BEN_FIELDS, mine, strict=True))
            home = homes.get(row.household)
            household_id = home.id if home is not None else None  # None: a dry run's new one
            if old is None and household_id is not None and household_id not in self.created:
                events += new_member_events(row.line, household_id, row.number, values)
                self.counts["beneficiaries_created"] += 1
            elif old is None:
                new.append({"mutual_id": self.mutual_id, "household_id": household_id, **values})
            else:
                assert household_id is not None
                found, plain = member_events(row.line, household_id, old, values)
                events += found
                updated += 1
                if any(plain[k] != old._mapping[k] for k in BEN_FIELDS):
                    changed.append({"id": old.id, **plain})
            if household_id is not None:
                touched.add(household_id)
        self.counts["beneficiaries_created"] += len(new)
        self.counts["beneficiaries_updated"] += updated
        if self.write:
            if new:
                self.session.execute(insert(Beneficiary), new)
            if changed:
                self.session.execute(update(Beneficiary), changed)
            self._touch(touched)
        return events

    def _touch(self, ids: set[int]) -> None:
        """D7: remembered (in the staging schema) for the allocation after the import."""
        if ids:
            self.session.execute(insert(TOUCHED), [{"household_id": i} for i in sorted(ids)])
