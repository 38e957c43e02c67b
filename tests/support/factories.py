"""Small builders for tests: a mutual with one product, households with beneficiaries."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from gateway.models import (
    Beneficiary,
    Funder,
    Household,
    HouseholdPhone,
    Levy,
    Mutual,
    Product,
    Subsidy,
)

_seq = itertools.count(1)


def make_mutual(session: Session, code: str = "MUT", **product: Any) -> Mutual:
    """A mutual with one product. Defaults: the D11 example (year from 01-01, waiting 60,
    grace 30, join window 30), 6 000 XOF per beneficiary, no registration fee."""
    mutual = Mutual(
        code=code,
        name=f"Mutuelle {code}",
        country="BF",
        timezone="Africa/Ouagadougou",
        languages=["fr", "en"],
    )
    session.add(mutual)
    subsidies = product.pop("subsidies", [])
    levies = product.pop("levies", [])
    settings: dict[str, Any] = {
        "code": "STD",
        "name": "Garantie de base",
        "period": "year",
        "contribution": 6000,
        "registration_fee": 0,
        "waiting_days": 60,
        "grace_days": 30,
        "join_window_days": 30,
        "coverage_start": "01-01",
    }
    settings.update(product)
    prod = Product(mutual=mutual, **settings)
    session.add(prod)
    for category, share, funder_code in subsidies:
        funder = None
        if funder_code:
            funder = Funder(mutual=mutual, code=funder_code, name=funder_code)
            session.add(funder)
        prod.subsidies.append(Subsidy(category=category, member_share=share, funder=funder))
    for name, basis_points in levies:
        prod.levies.append(Levy(name=name, basis_points=basis_points))
    session.flush()
    return mutual


def make_household(
    session: Session,
    mutual: Mutual,
    members: int = 1,
    enrolled_on: dt.date = dt.date(2025, 12, 1),
    category: str = "standard",
    phone: str | None = None,
    number: str | None = None,
) -> Household:
    n = next(_seq)
    number = number or f"{1000 + n}"
    household = Household(
        mutual=mutual,
        number=number,
        digits=number,
        category=category,
        product=mutual.products[0],
        language="fr",
    )
    session.add(household)
    session.flush()
    for i in range(members):
        add_beneficiary(
            session,
            household,
            enrolled_on=enrolled_on,
            relation="head" if i == 0 else "child",
            sex="M" if i == 0 else "F",
        )
    if phone:
        household.phones.append(HouseholdPhone(msisdn=phone, is_primary=True))
    session.flush()
    return household


def add_beneficiary(
    session: Session,
    household: Household,
    enrolled_on: dt.date,
    relation: str = "child",
    sex: str = "F",
    birth_date: dt.date | None = dt.date(1990, 1, 1),
    status: str = "active",
    left_on: dt.date | None = None,
) -> Beneficiary:
    index = len(household.beneficiaries) + 1
    number = f"{household.number}{index:02d}"
    ben = Beneficiary(
        mutual_id=household.mutual_id,
        household=household,
        number=number,
        digits=number,
        full_name=f"Membre {number}",
        sex=sex,
        birth_date=birth_date,
        relation=relation,
        status=status,
        enrolled_on=enrolled_on,
        left_on=left_on,
    )
    session.add(ben)
    session.flush()
    return ben
