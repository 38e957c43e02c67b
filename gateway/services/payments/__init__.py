"""Payments (payments.md): intents, lifecycle, provider events, flow, effects, sweeps, history.

- effects: What a verified payment does, once: credit and allocate (D7), or suspense; and the
  receipt.
- events: What providers send (payments.md): each raw callback delivery stored first, whatever it
  turns
- flow: The intent state machine (payments.md): forward only, events ordered by precedence.
- history_import: Historical and cash payments import (interfaces.md, Files: Payments): every
  line is checked
- intents: Payment intents: created before any provider call, one reference for every retry.
- lifecycle: The intent lifecycle's rules (payments.md): forward only, by precedence, with
  backoff.
- port: The payment provider port (payments.md): initiate, status, parse_callback; the
  adapters implement it.
- sweeps: The sweeper's side of payments (payments.md): what is due (status polls and late
  checks,
"""

from gateway.services.payments.effects import (
    Hold,
    book_suspense,
    hold_in_bulk,
    queue_held_receipts,
)
from gateway.services.payments.events import (
    record_event,
    store_callback,
)
from gateway.services.payments.flow import (
    apply_event,
    apply_status,
    record_initiation,
    start_initiation,
)
from gateway.services.payments.history_import import (
    PaymentsReport,
    import_payments,
)
from gateway.services.payments.intents import (
    MAX_PAYMENT,
    MIN_PAYMENT,
    AmountRefused,
    create_intent,
    intent_row,
    list_intents,
    payment_request,
)
from gateway.services.payments.lifecycle import (
    TERMINAL,
    polled,
)
from gateway.services.payments.port import (
    CallbackEvent,
    CallbackRejected,
    CallbackRequest,
    ForgedCallback,
    InitiateResult,
    Initiation,
    InvalidProviderAnswer,
    PaymentProvider,
    PaymentRequest,
    ProviderError,
    ProviderState,
    StatusResult,
)
from gateway.services.payments.stuck import abandoned_intents, is_stuck, why_stuck
from gateway.services.payments.sweeps import (
    ABANDONED,
    MAX_CONFIRM_SWEEPS,
    due_polls,
    expired_events,
    give_up_event,
    poll_failed,
    stale_created,
    unapplied_events,
)

__all__ = [
    "ABANDONED",
    "MAX_CONFIRM_SWEEPS",
    "MAX_PAYMENT",
    "MIN_PAYMENT",
    "TERMINAL",
    "AmountRefused",
    "CallbackEvent",
    "CallbackRejected",
    "CallbackRequest",
    "ForgedCallback",
    "Hold",
    "InitiateResult",
    "Initiation",
    "InvalidProviderAnswer",
    "PaymentProvider",
    "PaymentRequest",
    "PaymentsReport",
    "ProviderError",
    "ProviderState",
    "StatusResult",
    "abandoned_intents",
    "apply_event",
    "apply_status",
    "book_suspense",
    "create_intent",
    "due_polls",
    "expired_events",
    "give_up_event",
    "hold_in_bulk",
    "import_payments",
    "intent_row",
    "is_stuck",
    "list_intents",
    "payment_request",
    "poll_failed",
    "polled",
    "queue_held_receipts",
    "record_event",
    "record_initiation",
    "stale_created",
    "start_initiation",
    "store_callback",
    "unapplied_events",
    "why_stuck",
]
