"""`gateway eligibility` and the coverage screens: a number and a date in, D11/D12 out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from gateway.services.coverage.eligibility import BeneficiaryStatus, Status, beneficiary_status
from gateway.services.coverage.lookup import find_number
from gateway.services.coverage.periods import period_label
from gateway.services.coverage.snapshot import read_book
from gateway.services.coverage.standing import Offer, standing_of


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _member(status: BeneficiaryStatus) -> dict[str, Any]:
    """A suspension's reason (D11) and why a member was removed come with the status."""
    member: dict[str, Any] = {
        "number": status.number,
        "status": status.status.value,
        "until": _iso(status.until),
        "from": _iso(status.from_),
    }
    if status.reason:
        member["reason"] = status.reason
    return member


def _offered(offer: Offer) -> dict[str, Any]:
    """D6b: what the member is asked to pay now and the period it buys."""
    period = offer.period
    return {
        "kind": offer.kind.value,
        "amount": offer.amount,
        "period": period_label(period) if period else None,
        "period_start": _iso(period.start) if period else None,
        "registration": offer.registration,
    }


def coverage(
    session: Session,
    number: str,
    on: dt.date,
    mutual_id: int | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """The interfaces.md JSON shape; an unknown number is status UNKNOWN (D11). `kind`
    looks among households or beneficiaries only (lookup.find_number)."""
    found = find_number(session, number, mutual_id, kind)
    if found is None:
        return {
            "number": number,
            "kind": kind or "beneficiary",
            "status": Status.UNKNOWN.value,
            "until": None,
            "from": None,
            "amount_due": None,
            "members": [],
            "on": _iso(on),
        }
    book = read_book(session, found.household, on)
    now = standing_of(session, found.household, on, book)
    summary = now.status
    common = {
        "household": found.household.number,
        "amount_due": summary.amount_due,
        "renewal_amount": summary.renewal_amount,
        "offered": _offered(now.offer),
        "credit": now.credit,
        "on": _iso(on),
        "members": [_member(m) for m in summary.members],
    }
    if found.beneficiary is not None:
        status = beneficiary_status(book, found.beneficiary, on)
        return {
            "number": found.beneficiary.number,
            "kind": "beneficiary",
            **_member(status),
            "name": found.beneficiary.full_name,
            **common,
        }
    return {
        "number": found.household.number,
        "kind": "household",
        "status": "UP_TO_DATE" if summary.up_to_date else "NOT_UP_TO_DATE",
        "until": _iso(summary.until),
        "from": _iso(summary.from_),
        **common,
    }
