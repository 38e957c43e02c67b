"""The double-entry ledger (payments.md, "Ledger"): posting, reversal, balances, audit.

- accounts: the chart of accounts, one constructor per account kind (`accounts.household(17)`).
- errors: why the ledger refuses a posting (LedgerError and its kinds).
- posting: post, post_many, post_one, reverse, balance and household credit.
- invariants: audit() of the ledger's invariants (balanced, unedited, one mutual, credit >= 0).
"""

from gateway.services.ledger import accounts
from gateway.services.ledger.accounts import account_kind
from gateway.services.ledger.errors import LedgerError
from gateway.services.ledger.invariants import audit, ledger_size
from gateway.services.ledger.posting import (
    Posting,
    balance,
    household_credit,
    post,
    post_many,
    post_one,
    reverse,
)

__all__ = [
    "LedgerError",
    "Posting",
    "account_kind",
    "accounts",
    "audit",
    "balance",
    "household_credit",
    "ledger_size",
    "post",
    "post_many",
    "post_one",
    "reverse",
]
