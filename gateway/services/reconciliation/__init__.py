"""Reconciliation (payments.md): statements imported, matched, acted on, reported.

- actions: People resolve reconciliation exceptions (payments.md): assign a suspense line to a
- effects: What reconciliation does with its results (payments.md): a lost callback of a known
  intent
- match: The matching engine (payments.md, "Reconciliation"), set-based: one INSERT ... SELECT
- reconcile: Reconciliation of one provider's statement for one mutual (payments.md): import,
  match,
- release: Releasing a mutual's ledger hold (payments.md, "Ledger"; D7, D20): the hold cleared,
  allocation and the deferred receipts resume.
- report: The daily reconciliation report of one provider and mutual (payments.md): counts and
  sums
- statement_formats: Provider statement layouts (payments.md, "Reconciliation"): the generic CSV
  and the column
- statement_import: Statement import (payments.md, "Reconciliation"): idempotent by file hash and
  by each
"""

from gateway.services.reconciliation.actions import (
    approve,
    assign,
    exceptions,
    ignore,
)
from gateway.services.reconciliation.reconcile import (
    FAILED_ALERT,
    ReconcileError,
    alert_failed_run,
    business_day,
    import_and_reconcile,
    mutual_by_code,
    reconcile_days,
)
from gateway.services.reconciliation.release import (
    Released,
    release,
)
from gateway.services.reconciliation.report import (
    as_json,
    as_text,
    build_report,
)
from gateway.services.reconciliation.statement_import import PROVIDERS

__all__ = [
    "FAILED_ALERT",
    "PROVIDERS",
    "ReconcileError",
    "Released",
    "alert_failed_run",
    "approve",
    "as_json",
    "as_text",
    "assign",
    "build_report",
    "business_day",
    "exceptions",
    "ignore",
    "import_and_reconcile",
    "mutual_by_code",
    "reconcile_days",
    "release",
]
