"""The chart of accounts (payments.md, "Ledger"): every account name is built here, so that
postings, balances, reports and audits agree on one spelling. A name is `<kind>:<what>[:<id>]`,
the kind its first part, and accounts are per mutual (the name does not carry the mutual)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from gateway.models import Account
from gateway.models.ledger import ACCOUNT_KINDS
from gateway.services.ledger.errors import LedgerError

HOUSEHOLD_PREFIX = "liab:household:"
UNASSIGNED_FUNDER = "unassigned"  # receivable of a subsidy whose product names no funder


def account_kind(name: str) -> str:
    """The kind is the name's prefix so that reports group accounts without a lookup."""
    kind, sep, rest = name.partition(":") if isinstance(name, str) else ("", "", "")
    if not sep or not rest or kind not in ACCOUNT_KINDS:
        raise LedgerError(
            f"account name {name!r} must start with one of {'|'.join(ACCOUNT_KINDS)}:"
        )
    return kind


def household(household_id: int) -> str:
    """A household's credit: money received for it and not yet allocated."""
    return f"{HOUSEHOLD_PREFIX}{household_id}"


def household_id(name: str) -> int | None:
    """The household whose credit account NAME is, or None for any other account."""
    suffix = name.removeprefix(HOUSEHOLD_PREFIX)
    return int(suffix) if suffix != name and suffix.isdigit() else None


def household_accounts() -> ColumnElement[bool]:
    """SQL criterion on Account: the household credit accounts (audits, credit sweeps)."""
    return Account.name.startswith(HOUSEHOLD_PREFIX, autoescape=True)


def provider_float(provider: str) -> str:
    """Money held for the mutual by a mobile-money operator or aggregator."""
    return f"asset:float:{provider}"


def agent_cash(agent_id: int) -> str:
    """Cash an agent collected and has not yet remitted (D21)."""
    return f"asset:agent_cash:{agent_id}"


def cash() -> str:
    """Cash received at the mutual's office, by no agent."""
    return "asset:cash"


def bank() -> str:
    """The mutual's bank account: settlements and remittances land here."""
    return "asset:bank"


def receivable(funder_code: str | None) -> str:
    """What a funder owes for the shares it subsidises (D3)."""
    return f"asset:receivable:{funder_code or UNASSIGNED_FUNDER}"


def suspense(provider: str) -> str:
    """Money a provider collected for the mutual that no household can be credited with yet."""
    return f"liab:suspense:{provider}"


def held_payments() -> str:
    """Money received for a household but held for an operator (far above what it could owe):
    not the household's credit until released."""
    return "liab:held_payments"


def levy(name: str) -> str:
    """A levy's share of earned contributions (D4), owed to its beneficiary."""
    return f"liab:levy:{name}"


def contributions() -> str:
    """Contributions earned by allocation to periods (D7)."""
    return "income:contributions"


def registration_fees() -> str:
    """Registration fees earned when a household's fee is allocated (D7)."""
    return "income:registration_fees"


def provider_fees() -> str:
    """What operators keep from settlements."""
    return "expense:provider_fees"
