"""Why the ledger refuses a posting: shared by the chart of accounts and the posting code."""


class LedgerError(Exception):
    """A posting the ledger refuses; nothing was written."""


class UnbalancedTransaction(LedgerError):
    """Debits and credits differ: double entry forbids it."""


class IdempotencyConflict(LedgerError):
    """The same business event key came back with different lines: a bug or tampering."""
