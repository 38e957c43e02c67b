"""The household register: the members CSV import (interfaces.md, Files: Members), and its
dated events (D23).

- events: The household register as dated events (D23, issue 18).

- importer: Members import (interfaces.md, Files: Members): every row is checked before anything
  is
- rows: One members file row at a time (interfaces.md, Files: Members): each cell checked against
- upsert: The members import's writes: the mutual's rows read in one query per table, compared
  with
"""

from gateway.services.members.events import (
    ABOUT_BENEFICIARY,
    EVENT_TYPES,
    Change,
    EventError,
    Recorded,
    apply_due_product_changes,
    household_events,
    record_event,
)
from gateway.services.members.importer import (
    COLUMNS,
    ImportErrors,
    ImportReport,
    import_members,
)

__all__ = [
    "ABOUT_BENEFICIARY",
    "COLUMNS",
    "EVENT_TYPES",
    "Change",
    "EventError",
    "ImportErrors",
    "ImportReport",
    "Recorded",
    "apply_due_product_changes",
    "household_events",
    "import_members",
    "record_event",
]
