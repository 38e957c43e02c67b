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
from gateway.models.enrolment import (
    Enrolment,
    EnrolmentDependant,
    EnrolmentStatus,
    NumberSequence,
)
from gateway.models.export import EXPORT_LISTS, Export, ExportState
from gateway.models.funding import FunderPayment, LevyRemittance
from gateway.models.household import Household, HouseholdPhone
from gateway.models.household_event import FacilityCheck, HouseholdEvent, MembershipSpell
from gateway.models.inbound import InboundSms as InboundSms
from gateway.models.indicator import Indicator, IndicatorDirty, IndicatorTarget
from gateway.models.ledger import Account, LedgerEntry, LedgerTransaction
from gateway.models.ledger_audit import LedgerAuditMark, LedgerChange
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
    "EXPORT_LISTS",
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
    "Enrolment",
    "EnrolmentDependant",
    "EnrolmentStatus",
    "Export",
    "ExportState",
    "FacilityCheck",
    "Funder",
    "FunderPayment",
    "Household",
    "HouseholdEvent",
    "HouseholdPhone",
    "Indicator",
    "IndicatorDirty",
    "IndicatorTarget",
    "IntentFlag",
    "IntentState",
    "LedgerAuditMark",
    "LedgerChange",
    "LedgerEntry",
    "LedgerHold",
    "LedgerTransaction",
    "Levy",
    "LevyRemittance",
    "LineStatus",
    "MembershipSpell",
    "Mutual",
    "NumberSequence",
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
