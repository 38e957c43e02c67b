"""The household register: the members CSV import (interfaces.md, Files: Members), and its
dated events (D23).

- enrolment: Enrolment in the field (D24): drafts, duplicates, numbers, decisions.
- events: The household register as dated events (D23, issue 18).

- importer: Members import: every row is checked before anything is written (issue 15: any size
  of file in bounded memory)
- rows: One members file row at a time: each cell checked against the mutual
- staging: The temporary table the checked rows are written to, in chunks
- checks: The rules across rows, as SQL over the staging table and the register
- upsert: The writes, read back from the staging table in keyed chunks
- diff: The import as a producer of D23 events: each changed row recorded through `record_event`
"""

from gateway.services.members.enrolment import (
    Approved,
    BadAnswer,
    Dependant,
    EnrolmentError,
    Refused,
    Typed,
    cancel_draft,
    checked_enrolment,
    create_enrolment,
    decide_enrolment,
    dependant_answer,
    dependant_name,
    draft_of,
    draft_started,
    enrolment_row,
    find_duplicates,
    next_step,
    pending_enrolments,
    sections_of,
    set_count,
    set_head,
    set_section,
    start_draft,
    submit_enrolment,
)
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
    "Approved",
    "BadAnswer",
    "Change",
    "Dependant",
    "EnrolmentError",
    "EventError",
    "ImportErrors",
    "ImportReport",
    "Recorded",
    "Refused",
    "Typed",
    "apply_due_product_changes",
    "cancel_draft",
    "checked_enrolment",
    "create_enrolment",
    "decide_enrolment",
    "dependant_answer",
    "dependant_name",
    "draft_of",
    "draft_started",
    "enrolment_row",
    "find_duplicates",
    "household_events",
    "import_members",
    "next_step",
    "pending_enrolments",
    "record_event",
    "sections_of",
    "set_count",
    "set_head",
    "set_section",
    "start_draft",
    "submit_enrolment",
]
