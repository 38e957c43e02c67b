"""How coverage reads on a phone (D11, D12, D13): pure functions shared by the member,
visitor and agent journeys, used with real data and with the validator's samples alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.menus.engine.catalog import Translator
from gateway.menus.engine.render import full_name, short_name
from gateway.menus.engine.screens import Item, View
from gateway.services.coverage import Status

CONTACT_MAX = 90


@dataclass(frozen=True)
class MemberLine:
    """One beneficiary as the coverage list shows it (D11 status and its date)."""

    name: str
    status: Status
    until: dt.date | None = None
    since: dt.date | None = None


def status_line(t: Translator, status: Status, until: dt.date | None, since: dt.date | None) -> str:
    """D11 in capitals with the date it holds until (or from): `COUVERT jusqu'au 31/12/2026`."""
    return t(f"st_{status.value}", until=t.date(until), since=t.date(since))


def coverage_view(t: Translator, headline: str, offer: str, members: list[MemberLine]) -> View:
    """D12: the household's headline ("A JOUR jusqu'au", "PAYE, couvert des le", "PAS A
    JOUR") and the amount offered with the period it buys (D6b; gateway.services.coverage.
    wording), then each beneficiary with status and date, paginated by the renderer."""
    summary = [line for line in (headline, offer) if line]
    items = tuple(
        Item(
            t(
                f"item_{m.status.value}",
                name=short_name(m.name),
                until=t.date(m.until),
                since=t.date(m.since),
            )
        )
        for m in members
    )
    return View({"summary": "\n".join(summary)}, items)


def verify_view(
    t: Translator,
    name: str,
    sex: str,
    birth_year: int | None,
    status: Status,
    until: dt.date | None,
    since: dt.date | None,
    copay: Mapping[str, object],
) -> View:
    """D13: name, sex, year of birth, status with its date, the product's co-payment
    (`TM: CSPS 10% CHR 30%`: levels apart by spaces, so that four fit the agent's result
    screen with its options); nothing about payments."""
    levels = " ".join(f"{level.upper()} {pct}%" for level, pct in copay.items())
    year = birth_year if birth_year else t("year_unknown")
    return View(
        {
            "name": full_name(name),
            "person": t(f"verify_person_{sex}", year=year),
            "status": status_line(t, status, until, since),
            "copay": t("copay", levels=levels or t("copay_none")),
        }
    )


def contact_view(t: Translator, mutual: str, contact: str | None) -> View:
    """The mutual's name and contact (visitor help, ambiguous numbers)."""
    return View(
        {
            "mutual": full_name(mutual or t("mutual_unknown")),
            "contact": (contact or t("contact_unknown"))[:CONTACT_MAX],
        }
    )
