"""SQLAlchemy 2 typed models, one module per concept."""

from gateway.models.agent import Agent
from gateway.models.alert import Alert
from gateway.models.base import Base
from gateway.models.beneficiary import Beneficiary
from gateway.models.campaign import Campaign, ReminderRule
from gateway.models.cash import CashCollection, Remittance, RemittanceStatus
from gateway.models.coverage import (
    Allocation,
    AllocationReversal,
    CoveragePeriod,
    CoverageSnapshot,
)
from gateway.models.household import Household, HouseholdPhone
from gateway.models.household_event import FacilityCheck, HouseholdEvent, MembershipSpell
from gateway.models.inbound import InboundSms as InboundSms
from gateway.models.ledger import Account, LedgerEntry, LedgerTransaction
from gateway.models.ledger_guard import AppendOnlyViolation as AppendOnlyViolation
from gateway.models.ledger_hold import LedgerHold
from gateway.models.mutual import Funder, Mutual, Section
from gateway.models.operator import ApiToken, OperatorAction, Role, ScopeKind, Union, User
from gateway.models.outbox import OutboxMessage, OutboxStatus
from gateway.models.payment import Payment
from gateway.models.payment_intent import (
    IntentFlag,
    IntentState,
    PaymentCallback,
    PaymentEvent,
    PaymentIntent,
    SandboxRequest,
    SuspenseItem,
    SuspenseState,
)
from gateway.models.product import Levy, Product, Subsidy
from gateway.models.reconciliation import (
    ActionKind,
    ActionState,
    LineStatus,
    ReconAction,
    ReconMatch,
    ReconMissing,
    StatementDay,
    StatementFile,
    StatementLine,
    StatementRepeat,
)
from gateway.models.reminder import ReminderOccurrence as ReminderOccurrence
from gateway.models.ussd import UssdHop, UssdSessionEvent

__all__ = [
    "Account",
    "ActionKind",
    "ActionState",
    "Agent",
    "Alert",
    "Allocation",
    "AllocationReversal",
    "ApiToken",
    "Base",
    "Beneficiary",
    "Campaign",
    "CashCollection",
    "CoveragePeriod",
    "CoverageSnapshot",
    "FacilityCheck",
    "Funder",
    "Household",
    "HouseholdEvent",
    "HouseholdPhone",
    "IntentFlag",
    "IntentState",
    "LedgerEntry",
    "LedgerHold",
    "LedgerTransaction",
    "Levy",
    "LineStatus",
    "MembershipSpell",
    "Mutual",
    "OperatorAction",
    "OutboxMessage",
    "OutboxStatus",
    "Payment",
    "PaymentCallback",
    "PaymentEvent",
    "PaymentIntent",
    "Product",
    "ReconAction",
    "ReconMatch",
    "ReconMissing",
    "ReminderRule",
    "Remittance",
    "RemittanceStatus",
    "Role",
    "SandboxRequest",
    "ScopeKind",
    "Section",
    "StatementDay",
    "StatementFile",
    "StatementLine",
    "StatementRepeat",
    "Subsidy",
    "SuspenseItem",
    "SuspenseState",
    "Union",
    "User",
    "UssdHop",
    "UssdSessionEvent",
]
