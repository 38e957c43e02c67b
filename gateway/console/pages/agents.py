"""`/console/agents` (D19-D21, console.md, issue 16): the agents of the scope with their role,
state, lock and the cash they hold and its age; add one, deactivate, reactivate, unlock, reset
a PIN; remittances waiting for a decision (confirm / reject).

Writes go through gateway.services.agents (the services of `gateway agents add` and
`confirm-remittance` / `reject-remittance`), in one transaction with one `operator_actions`
row. A PIN is typed by the operator (as `--pin`), stored hashed only, and never appears in a
page, a log or the audit row. A remittance is decided in the name of a supervisor of its
mutual, as `--by PHONE` does (D21: never the declarer)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from gateway.console.forms import AgentForm, DecisionForm, PinForm, ReasonForm
from gateway.console.i18n import text
from gateway.console.views import actor, console_view, current_scope, get_or_404, operator, scoped
from gateway.handlers import request_session, runtime
from gateway.lib.phones import InvalidPhone, mask_msisdn, normalize_msisdn
from gateway.models import Agent, Mutual, Remittance, RemittanceStatus, Role, ScopeKind, Section
from gateway.models.agent import ROLES
from gateway.services.agents import (
    AgentError,
    CashError,
    Decision,
    add_agent,
    cash_position,
    confirm_remittance,
    local_day,
    reject_remittance,
    reset_pin,
    set_agent_active,
    unlock_agent,
)
from gateway.services.operators import Where, record_action

ROSTER = (Role.ADMIN, Role.MANAGER)  # who keeps the roster (D27: managers run the field)
MONEY = (Role.MANAGER, Role.FINANCE)  # who decides on remittances (money moves, D21)
LIST_LIMIT = 500  # agents of a scope: tens to a few hundred


@console_view("/agents")
def agents() -> ResponseReturnValue:
    db, now = request_session(), runtime().clock.now()
    query = scoped(select(Agent), Agent).order_by(Agent.name, Agent.id).limit(LIST_LIMIT)
    rows = list(db.scalars(query))
    cash = {}
    for agent in rows:
        position = cash_position(db, agent)
        cash[agent.id] = (position.outstanding, position.age_days(local_day(agent.mutual, now)))
    pending = scoped(select(Remittance), Remittance).where(
        Remittance.status == RemittanceStatus.PENDING
    )
    supervisors = scoped(select(Agent), Agent).where(
        Agent.role == "supervisor", Agent.active.is_(True)
    )
    return render_template(
        "console/agents.html",
        agents=rows,
        cash=cash,
        sections=_section_names(rows),
        now=now,
        remittances=list(db.scalars(pending.order_by(Remittance.declared_at).limit(LIST_LIMIT))),
        supervisors=list(db.scalars(supervisors.order_by(Agent.name).limit(LIST_LIMIT))),
        mutuals=list(db.scalars(scoped(select(Mutual), Mutual).order_by(Mutual.code))),
        roles=ROLES,
        form=AgentForm(),
        reason_form=ReasonForm(),
        pin_form=PinForm(),
        decision_form=DecisionForm(),
    )


def _section_names(rows: list[Agent]) -> dict[int, str]:
    wanted = {a.section_id for a in rows if a.section_id is not None}
    if not wanted:
        return {}
    query = select(Section.id, Section.name).where(Section.id.in_(wanted))
    return {row_id: name for row_id, name in request_session().execute(query)}


@console_view("/agents/new", roles=ROSTER, methods=("POST",))
def agent_new() -> ResponseReturnValue:
    form = AgentForm()
    if not form.validate_on_submit():
        return _refused("; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()))
    db, now = request_session(), runtime().clock.now()
    mutual = get_or_404(Mutual, form.mutual.data or 0)
    section = _section_for(mutual, (form.section.data or "").strip() or None)
    try:
        _phone_free(mutual, form.phone.data or "")
        agent = add_agent(
            db,
            mutual,
            phone=form.phone.data or "",
            name=form.name.data or "",
            role=form.role.data or "",
            pin=form.pin.data or "",
            section=section,
        )
    except (AgentError, InvalidPhone) as exc:
        return _refused(str(exc))
    shown = {"phone": mask_msisdn(agent.msisdn), "name": agent.name, "role": agent.role}
    record_action(
        db,
        actor(),
        "agent.add",
        ("agent", agent.id),
        now=now,
        where=_where(agent),
        after={**shown, "section": section},
    )
    db.commit()
    flash(text(_lang(), "agents_saved", phone=shown["phone"]), "ok")
    return _back()


def _section_for(mutual: Mutual, name: str | None) -> str | None:
    """A section's operator adds agents to their own section only."""
    scope = current_scope()
    if scope.kind != ScopeKind.SECTION:
        return name
    own = request_session().get_one(Section, scope.section_id)
    return own.name


def _phone_free(mutual: Mutual, phone: str) -> None:
    """`add_agent` updates the agent with that phone: only one this operator may see."""
    msisdn = normalize_msisdn(phone, mutual.country)
    db = request_session()
    existing = db.scalars(select(Agent.id).where(Agent.msisdn == msisdn)).one_or_none()
    if existing is None:
        return
    visible = scoped(select(Agent.id), Agent).where(Agent.id == existing)
    if db.scalars(visible).one_or_none() is None:
        raise AgentError(f"phone {mask_msisdn(msisdn)} is already an agent outside your scope")


@console_view("/agents/<int:agent_id>/deactivate", roles=ROSTER, methods=("POST",))
def agent_deactivate(agent_id: int) -> ResponseReturnValue:
    return _set_active(agent_id, active=False)


@console_view("/agents/<int:agent_id>/activate", roles=ROSTER, methods=("POST",))
def agent_activate(agent_id: int) -> ResponseReturnValue:
    return _set_active(agent_id, active=True)


def _set_active(agent_id: int, *, active: bool) -> ResponseReturnValue:
    agent = get_or_404(Agent, agent_id)
    form = ReasonForm()
    reason = (form.reason.data or "").strip()
    if not form.validate_on_submit() or (not active and not reason):
        return _refused(text(_lang(), "reason_required"))  # deactivating stops their work
    db, now = request_session(), runtime().clock.now()
    before = agent.active
    set_agent_active(db, agent, active)
    action = "agent.activate" if active else "agent.deactivate"
    record_action(
        db,
        actor(),
        action,
        ("agent", agent.id),
        now=now,
        where=_where(agent),
        before={"active": before},
        after={"active": active},
        reason=reason,
    )
    db.commit()
    return _done()


@console_view("/agents/<int:agent_id>/unlock", roles=ROSTER, methods=("POST",))
def agent_unlock(agent_id: int) -> ResponseReturnValue:
    agent = get_or_404(Agent, agent_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "reason_required"))
    db, now = request_session(), runtime().clock.now()
    before = {"failed_tries": agent.failed_tries, "locked": agent.locked_until is not None}
    unlock_agent(db, agent)
    record_action(
        db,
        actor(),
        "agent.unlock",
        ("agent", agent.id),
        now=now,
        where=_where(agent),
        before=before,
        reason=(form.reason.data or "").strip(),
    )
    db.commit()
    return _done()


@console_view("/agents/<int:agent_id>/pin", roles=ROSTER, methods=("POST",))
def agent_pin(agent_id: int) -> ResponseReturnValue:
    agent = get_or_404(Agent, agent_id)
    form = PinForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "agents_pin_rule"))
    db, now = request_session(), runtime().clock.now()
    try:
        reset_pin(db, agent, form.pin.data or "")
    except AgentError as exc:
        return _refused(str(exc))
    record_action(db, actor(), "agent.pin_reset", ("agent", agent.id), now=now, where=_where(agent))
    db.commit()
    return _done()


# --- remittances (D21) ---------------------------------------------------------------------


@console_view("/remittances/<int:remittance_id>/confirm", roles=MONEY, methods=("POST",))
def remittance_confirm(remittance_id: int) -> ResponseReturnValue:
    return _decide(remittance_id, confirm=True)


@console_view("/remittances/<int:remittance_id>/reject", roles=MONEY, methods=("POST",))
def remittance_reject(remittance_id: int) -> ResponseReturnValue:
    return _decide(remittance_id, confirm=False)


def _decide(remittance_id: int, *, confirm: bool) -> ResponseReturnValue:
    remittance = get_or_404(Remittance, remittance_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _refused(text(_lang(), "agents_decision_rule"))
    supervisor = get_or_404(Agent, form.supervisor.data or 0)
    db, now, reason = request_session(), runtime().clock.now(), (form.reason.data or "").strip()
    try:
        done: Decision = (
            confirm_remittance(
                db, remittance_id=remittance.id, supervisor=supervisor, now=now, note=reason
            )
            if confirm
            else reject_remittance(
                db, remittance_id=remittance.id, supervisor=supervisor, now=now, reason=reason
            )
        )
    except CashError as exc:
        return _refused(str(exc))
    record_action(
        db,
        actor(),
        "remittance.confirm" if confirm else "remittance.reject",
        ("remittance", remittance.id),
        now=now,
        where=Where(mutual_id=remittance.mutual_id),
        after={
            "status": str(done.remittance.status),
            "amount": remittance.amount,
            "supervisor": supervisor.id,
            "changed": done.created,
        },
        reason=reason,
    )
    db.commit()
    return _done()


# --- helpers -------------------------------------------------------------------------------


def _where(agent: Agent) -> Where:
    return Where(mutual_id=agent.mutual_id, section_id=agent.section_id)


def _refused(message: str) -> ResponseReturnValue:
    request_session().rollback()
    flash(message, "error")
    return _back()


def _done() -> ResponseReturnValue:
    flash(text(_lang(), "users_done"), "ok")
    return _back()


def _back() -> ResponseReturnValue:
    return redirect(url_for("console.agents"))


def _lang() -> str:
    return operator().language
