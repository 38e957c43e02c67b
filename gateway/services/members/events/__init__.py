"""The household register as dated events (D23, issue 18).

- change: What an event is (D23): its type, effective date, reason, author and data.
- record: Recording a household event (D23): one row kept forever, then its effect on the
  register and at once on the books (D3-D7), all in the caller's transaction.
- effects: What each event type does to the register (D23), and its money at once (D3-D7).
- product: D1, D23: a household changes product only at a period boundary.
"""

from gateway.services.members.events.change import (
    ABOUT_BENEFICIARY,
    EVENT_TYPES,
    Change,
    EventError,
)
from gateway.services.members.events.product import apply_due_product_changes
from gateway.services.members.events.record import Recorded, household_events, record_event

__all__ = [
    "ABOUT_BENEFICIARY",
    "EVENT_TYPES",
    "Change",
    "EventError",
    "Recorded",
    "apply_due_product_changes",
    "household_events",
    "record_event",
]
