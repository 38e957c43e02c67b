"""Who is calling (ussd.md, menu map): decided once per session from the phone number.

An active agent's phone gets the PIN screen (D19); a phone linked to one household the member
menu, to several the household list; any other phone the visitor menu. When mutuals claim the
dialled service code, only their households count (one gateway serves many mutuals). A code
no mutual declares is served only where some mutual declares no code at all (a deployment
without service codes); otherwise it ENDs: the service is not available there, rather than
another mutual's menu."""

from __future__ import annotations

from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from gateway.menus.engine.catalog import DEFAULT_LANGUAGE, pick_language
from gateway.menus.engine.store import Frame
from gateway.menus.journeys.memory import AgentMemory, MemberMemory, VisitorMemory, stored
from gateway.models import Agent, Household, HouseholdPhone, Mutual

AGENT: Final = "agent"
MEMBER: Final = "member"
VISITOR: Final = "visitor"
UNAVAILABLE: Final = "service_unavailable"  # the END screen of a code no mutual declares

# Built once, not per session (issue 19: building a statement cost more than running it).
_MUTUALS = select(Mutual.id, Mutual.service_codes, Mutual.languages).order_by(Mutual.id)
_AGENT = (
    select(Agent.id, Agent.mutual_id, Agent.role, Mutual.languages)
    .join(Mutual, Mutual.id == Agent.mutual_id)
    .where(Agent.msisdn == bindparam("phone"), Agent.active.is_(True))
)
_HOUSEHOLDS = (
    select(
        Household.id, Household.number, Household.mutual_id, Household.language, Mutual.languages
    )
    .join(HouseholdPhone, HouseholdPhone.household_id == Household.id)
    .join(Mutual, Mutual.id == Household.mutual_id)
    .where(HouseholdPhone.msisdn == bindparam("phone"))
    .order_by(Household.number, Household.id)
)
_CLAIMED_HOUSEHOLDS = _HOUSEHOLDS.where(
    Household.mutual_id.in_(bindparam("mutuals", expanding=True))
)


def identify(db: Session, phone: str, service_code: str) -> Frame:
    """The session's first frame: screen, memory and language."""
    mutuals = db.execute(_MUTUALS).all()
    claiming = [m.id for m in mutuals if service_code and service_code in (m.service_codes or [])]
    open_to_any = [m for m in mutuals if not m.service_codes]
    if mutuals and not claiming and not open_to_any:
        return Frame(UNAVAILABLE, data={}, lang=DEFAULT_LANGUAGE)
    agent = db.execute(_AGENT, {"phone": phone}).first()
    if agent is not None:
        agent_memory: AgentMemory = {
            "kind": AGENT,
            "agent_id": agent.id,
            "mutual_id": agent.mutual_id,
        }
        lang = pick_language(*(agent.languages or [])[:1])
        return Frame("agent_pin", data=stored(agent_memory), lang=lang)
    if claiming:
        households = db.execute(_CLAIMED_HOUSEHOLDS, {"phone": phone, "mutuals": claiming}).all()
    else:
        households = db.execute(_HOUSEHOLDS, {"phone": phone}).all()
    if not households:
        # A visitor of the mutual that owns the service code, else of the first without one.
        home = next((m for m in mutuals if m.id in claiming), next(iter(open_to_any), None))
        visitor: VisitorMemory = {
            "kind": VISITOR,
            "mutual_id": home.id if home else None,
            "home": "visitor_menu",
        }
        languages = list(home.languages or []) if home else []
        return Frame("visitor_menu", data=stored(visitor), lang=pick_language(*languages[:1]))
    first = households[0]
    lang = pick_language(first.language, *(first.languages or [])[:1])
    mutual = _one_mutual({h.mutual_id for h in households})
    if len(households) == 1:
        data = member_data(first.id, first.number)
        data["mutual_id"] = mutual
        return Frame("member_menu", data=stored(data), lang=lang)
    choosing: MemberMemory = {
        "kind": MEMBER,
        "households": [h.id for h in households],
        "mutual_id": mutual,
    }
    return Frame("member_choose", data=stored(choosing), lang=lang)


def _one_mutual(mutuals: set[int]) -> int | None:
    """The mutual of the phone's households, for the audit (issue 16); None if several."""
    return next(iter(mutuals)) if len(mutuals) == 1 else None


def member_data(household_id: int, number: str) -> MemberMemory:
    """A member's memory once the household is known; `home` is where `00` leads."""
    return {
        "kind": MEMBER,
        "household_id": household_id,
        "household": number,
        "home": "member_menu",
    }
