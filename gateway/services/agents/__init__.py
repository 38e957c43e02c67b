"""Agents (D19-D21): the roster and PINs, cash collected, remittances.

- cash: Cash collected by agents (D20) and what they hold (D21).
- checks: Facility checks (D26): each beneficiary check by an agent on USSD (D13) is recorded
  once.
- registry: Agents (D19): collectors, facility staff and supervisors, identified by phone and
  PIN.
- remittances: Remittances (D21): a collector declares cash handed to the mutual, deposited or
  transferred;
"""

from gateway.services.agents.cash import (
    MAX_COLLECTION,
    CashError,
    cash_position,
    check_household,
    collect_cash,
    local_day,
    send_held_receipts,
)
from gateway.services.agents.checks import CheckRow, list_checks, record_check
from gateway.services.agents.registry import (
    AgentError,
    add_agent,
    check_pin,
    reset_pin,
    set_agent_active,
    unlock_agent,
)
from gateway.services.agents.remittances import (
    Decision,
    confirm_remittance,
    declare_remittance,
    flag_stale_cash,
    list_remittances,
    pending_for,
    reject_remittance,
    remittance_row,
)

__all__ = [
    "MAX_COLLECTION",
    "AgentError",
    "CashError",
    "CheckRow",
    "Decision",
    "add_agent",
    "cash_position",
    "check_household",
    "check_pin",
    "collect_cash",
    "confirm_remittance",
    "declare_remittance",
    "flag_stale_cash",
    "list_checks",
    "list_remittances",
    "local_day",
    "pending_for",
    "record_check",
    "reject_remittance",
    "remittance_row",
    "reset_pin",
    "send_held_receipts",
    "set_agent_active",
    "unlock_agent",
]
