"""The double-entry ledger (payments.md, "Ledger"): posting, reversal, balances, audit.

- accounts: the chart of accounts, one constructor per account kind (`accounts.household(17)`).
- errors: why the ledger refuses a posting (LedgerError and its kinds).
- posting: post, post_many, post_one, reverse, balance and household credit.
- invariants: audit() of the ledger's invariants (balanced, unedited, one mutual, credit >= 0),
  and audit_by_mutual() (breaches grouped by mutual id).
- recent: audit_recent(), the same invariants on what changed since its last run (issue 19).
- holds: a mutual's ledger on hold after a failed audit (hold, on_hold, clear): no automatic
  allocation until an operator clears it.
- credits: the households holding credit (money received, not yet allocated).
"""

from gateway.services.ledger import accounts
from gateway.services.ledger.accounts import account_kind
from gateway.services.ledger.credits import HouseholdCredit, household_credits
from gateway.services.ledger.errors import LedgerError
from gateway.services.ledger.holds import (
    BreachesRemain,
    HoldError,
    accepted_breaches,
    clear,
    hold,
    hold_breached,
    hold_history,
    on_hold,
    open_hold,
)
from gateway.services.ledger.invariants import (
    Breach,
    audit,
    audit_by_mutual,
    breaches_by_mutual,
    find_breaches,
    ledger_size,
)
from gateway.services.ledger.posting import (
    Posting,
    balance,
    household_credit,
    post,
    post_many,
    post_one,
    reverse,
)
from gateway.services.ledger.recent import RecentAudit, audit_recent

__all__ = [
    "Breach",
    "BreachesRemain",
    "HoldError",
    "HouseholdCredit",
    "LedgerError",
    "Posting",
    "RecentAudit",
    "accepted_breaches",
    "account_kind",
    "accounts",
    "audit",
    "audit_by_mutual",
    "audit_recent",
    "balance",
    "breaches_by_mutual",
    "clear",
    "find_breaches",
    "hold",
    "hold_breached",
    "hold_history",
    "household_credit",
    "household_credits",
    "ledger_size",
    "on_hold",
    "open_hold",
    "post",
    "post_many",
    "post_one",
    "reverse",
]
