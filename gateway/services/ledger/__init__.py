"""The double-entry ledger (payments.md, "Ledger"): posting, reversal, balances, audit.

- posting: Double-entry ledger (payments.md, "Ledger"): post, reverse, balance and audit.
"""

from gateway.services.ledger.posting import (
    HOUSEHOLD_PREFIX,
    LedgerError,
    Posting,
    account_kind,
    audit,
    balance,
    household_account,
    household_credit,
    ledger_size,
    post,
    post_many,
    post_one,
)

__all__ = [
    "HOUSEHOLD_PREFIX",
    "LedgerError",
    "Posting",
    "account_kind",
    "audit",
    "balance",
    "household_account",
    "household_credit",
    "ledger_size",
    "post",
    "post_many",
    "post_one",
]
