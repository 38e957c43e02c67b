"""Enrolment in the field (D24, issue 18): a collector types a household on USSD (a DRAFT per
collector, resumable), confirms it (PENDING, flagged with its possible duplicates), and a
manager approves it (household and member numbers with a check digit, SMS to the head and the
collector) or rejects it with a reason (SMS to the collector).

- answers: each answer checked, with the reason a re-prompt shows
- draft: the draft typed answer by answer; the next question; submission
- typed: an enrolment typed in one go (the console's form), checked by the same rules
- duplicates: same phone, or same name and year of birth in the section
- numbers: household and member numbers per mutual, with a Damm check digit
- decide: approval and rejection, the list of pending enrolments
- texts: the SMS of a decision
- audit: a decision with its operator_actions row; the row lists show
"""

from gateway.services.members.enrolment.answers import MAX_DEPENDANTS, BadAnswer
from gateway.services.members.enrolment.audit import VERDICTS, decide_enrolment, enrolment_row
from gateway.services.members.enrolment.decide import (
    Approved,
    EnrolmentError,
    approve,
    pending_enrolments,
    reject,
)
from gateway.services.members.enrolment.draft import (
    cancel_draft,
    dependant_answer,
    dependant_name,
    draft_of,
    draft_started,
    next_step,
    sections_of,
    set_count,
    set_head,
    set_section,
    start_draft,
    submit_enrolment,
)
from gateway.services.members.enrolment.duplicates import find_duplicates, same_name
from gateway.services.members.enrolment.numbers import member_numbers, next_household_number
from gateway.services.members.enrolment.typed import (
    Dependant,
    Refused,
    Typed,
    checked_enrolment,
    create_enrolment,
)

__all__ = [
    "MAX_DEPENDANTS",
    "VERDICTS",
    "Approved",
    "BadAnswer",
    "Dependant",
    "EnrolmentError",
    "Refused",
    "Typed",
    "approve",
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
    "member_numbers",
    "next_household_number",
    "next_step",
    "pending_enrolments",
    "reject",
    "same_name",
    "sections_of",
    "set_count",
    "set_head",
    "set_section",
    "start_draft",
    "submit_enrolment",
]
