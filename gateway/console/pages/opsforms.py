"""What the operations pages' writes share (issue 16): a form whose reason (or note) is
required, since each of these writes resends, moves money, reruns a job or closes an alert
(console.md: destructive or money-moving actions ask for a reason); and where the object
sits, for its `operator_actions` row (D27)."""

from __future__ import annotations

from flask import flash

from gateway.console.forms import WhyForm
from gateway.console.i18n import text
from gateway.console.views import operator
from gateway.handlers import request_session
from gateway.models import Household
from gateway.services.operators import Where


def reason_given() -> str:
    """The posted reason; without one, a flash and "" (the CSRF token was checked before the
    view, gateway.console._protect_forms)."""
    form = WhyForm()
    if form.validate_on_submit() and (form.reason.data or "").strip():
        return (form.reason.data or "").strip()
    flash(text(operator().language, "ops_reason_needed"), "error")
    return ""


def where_of(mutual_id: int | None, household_id: int | None = None) -> Where:
    """The mutual and (through the household) the section of an object acted on."""
    section_id = None
    if household_id is not None:
        household = request_session().get(Household, household_id)
        section_id = household.section_id if household is not None else None
    return Where(mutual_id=mutual_id, section_id=section_id)
