"""What a USSD session remembers between hops (ussd.md), one TypedDict per journey, so that a
mistyped key is a mypy error. Actions and views declare theirs as `Ctx[PayMemory]` and so on.

The memory is the JSON the store keeps in Redis (gateway.menus.engine.store): these types describe
it and change nothing in it, so sessions in flight survive a deploy. Every key is optional
(`total=False`): a journey fills its keys as the caller moves through its screens.

No `from __future__ import annotations` here: Python 3.11 sees NotRequired only in evaluated
annotations, and tests read __required_keys__ to check the stored JSON."""

from typing import Any, Literal, NotRequired, TypedDict

Kind = Literal["agent", "member", "visitor", "resume"]


class Memory(TypedDict, total=False):
    """What every session may hold: who calls (caller.identify), where `00` leads, and the
    mutual of an agent or a visitor."""

    kind: Kind
    home: str
    mutual_id: int | None


# --- members ------------------------------------------------------------------------------


class MemberMemory(Memory, total=False):
    """A member: the household once known, the phone's households while choosing one."""

    household_id: int
    household: str  # its number, as the menu shows it
    households: list[int]


class PayMemory(MemberMemory, total=False):
    """Member option 2 (member_pay): the amount to pay, then the reference of its intent."""

    pay_amount: int
    pay_period: str  # the period the money buys, as named to the member (D6b)
    pay_reference: str


# --- checking a beneficiary number (agents and visitors) ---------------------------------


class Checked(TypedDict):
    """What verify.check_number found, kept so that the result screen needs no query."""

    number: str
    name: str
    sex: str
    year: int | None
    status: str  # a coverage Status value
    until: str | None  # ISO dates: the memory is JSON
    since: str | None
    copay: dict[str, object]


class VerifyMemory(Memory, total=False):
    """Checking a number (verify.py), shared by facility staff, collectors and visitors."""

    checked: Checked


class VisitorMemory(VerifyMemory, total=False):
    """The visitor journey: the mutual of the service code dialled, and a number checked."""


# --- agents -------------------------------------------------------------------------------


class AgentMemory(Memory, total=False):
    """An agent (D19): who, and after the PIN their role's menu; the lock's end if locked."""

    agent_id: int
    role: str
    name: str
    locked_until: str  # HH:MM in the mutual's time zone


class CollectDraft(TypedDict):
    """The household a collector is taking cash from (D20); the amount once typed."""

    household_id: int
    household: str
    name: str
    amount: NotRequired[int]


class Collected(TypedDict):
    """The cash recorded, as its END screen shows it."""

    code: str  # the receipt code
    amount: int
    household: str
    sms: bool  # a receipt SMS was queued


class CashMemory(AgentMemory, total=False):
    """Collector options 2 and 3 (agent_cash): the collection being taken, then taken."""

    collect: CollectDraft
    collected: Collected


class RemitDraft(TypedDict):
    """A remittance being declared (D21): the amount, then deposit or transfer."""

    amount: int
    method: NotRequired[str]


class Remitted(TypedDict):
    id: int
    amount: int


class PendingShown(TypedDict):
    """A colleague's remittance a supervisor is deciding on, as the screens show it."""

    id: int
    agent: str
    amount: int
    method: str
    date: str  # already formatted for the session's language
    by: str  # who decided, once decided


class RemitMemory(AgentMemory, total=False):
    """Option 4 (agent_remit): declaring a remittance, or deciding on a colleague's."""

    remit: RemitDraft
    remitted: Remitted
    pending: PendingShown


class Enrolled(TypedDict):
    """A field enrolment just confirmed (D24), as its END screen shows it."""

    id: int
    duplicate: bool  # flagged for the manager: it may repeat a member or an enrolment


class EnrolMemory(AgentMemory, total=False):
    """Collector option 5 (agent_enrol): the answers live in the draft row, not here."""

    enrolled: Enrolled


# --- the engine's resume offer ------------------------------------------------------------


class ResumeMemory(Memory, total=False):
    """ussd.md Resume: the dropped session's frame (1) and the normal start (2), as the
    store's frame records."""

    resume: dict[str, Any]
    restart: dict[str, Any]


def stored(memory: Memory) -> dict[str, Any]:
    """A new session's memory as the store's frame keeps it: the same keys in a plain dict."""
    return dict(memory)
