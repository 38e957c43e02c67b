"""Why a report or a payment against a statement is refused (a clear message, no write)."""

from __future__ import annotations


class ReportError(ValueError):
    """Bad input to a report (unknown funder, bad period, overpayment, ...)."""
