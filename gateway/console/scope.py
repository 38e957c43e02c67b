"""What an operator may see, in ONE place (D27, issue 16).

A `Scope` (built from the signed-in user, later from an API token) turns into one SQL condition
per model: `scope.condition(Model)`. Every scoped model declares its path to a mutual and a
section in `PATHS`; a model that is not declared is refused (`UnscopedModel`), so a new page
cannot read a table nobody thought about. Views read through `scoped(select(...), Model)` and
`get_or_404(Model, id)` (gateway.console.views), which apply the current request's scope.

Paths: the mutual through the model's own `mutual_id`; the section through the model's own
`section_id`, or through its household (`household_id` -> households.section_id). A model
with no path to a section (campaigns, alerts, ...) is mutual-wide: a section's operator does
not see it. The USSD audit tables carry the mutual the caller was identified for (0023):
mutual-wide, like campaigns; hops recorded before, or of a code no mutual serves, have none
and only the whole deployment sees them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from gateway.models import (
    Agent,
    Alert,
    Allocation,
    ApiToken,
    Beneficiary,
    Campaign,
    CashCollection,
    Enrolment,
    Export,
    FacilityCheck,
    Funder,
    FunderPayment,
    Household,
    HouseholdEvent,
    Indicator,
    IndicatorTarget,
    LevyRemittance,
    Mutual,
    OperatorAction,
    OutboxMessage,
    Payment,
    PaymentIntent,
    ReconAction,
    Remittance,
    ScopeKind,
    Section,
    StatementDay,
    StatementFile,
    SuspenseItem,
    Union,
    User,
    UssdHop,
    UssdSessionEvent,
)

Ts = TypeVarTuple("Ts")


class UnscopedModel(LookupError):
    """A model with no declared path to a mutual was read through the scope."""


@dataclass(frozen=True)
class Scope:
    """The whole deployment, a union (its mutuals), a mutual, or a section of a mutual."""

    kind: ScopeKind
    mutual_ids: frozenset[int] = frozenset()  # union: its mutuals; mutual/section: one
    union_id: int | None = None
    section_id: int | None = None

    @property
    def everything(self) -> bool:
        return self.kind == ScopeKind.ALL

    def condition(self, model: type[Any]) -> ColumnElement[bool]:
        """The WHERE clause that keeps `model`'s rows inside this scope."""
        path = path_of(model)
        if self.everything:
            return true()
        return path(self)


def user_scope(session: Session, user: User) -> Scope:
    """The scope of a signed-in user."""
    return stored_scope(
        session, user.scope_kind, user.scope_union_id, user.scope_mutual_id, user.scope_section_id
    )


def stored_scope(
    session: Session,
    kind: ScopeKind,
    union_id: int | None,
    mutual_id: int | None,
    section_id: int | None,
) -> Scope:
    """The scope stored on a user or an API token (the same columns); a union's mutuals are
    read now (one indexed query)."""
    if kind == ScopeKind.UNION:
        ids = session.scalars(select(Mutual.id).where(Mutual.union_id == union_id))
        return Scope(kind, frozenset(ids), union_id=union_id)
    if kind in (ScopeKind.MUTUAL, ScopeKind.SECTION) and mutual_id is not None:
        return Scope(kind, frozenset({mutual_id}), section_id=section_id)
    return Scope(ScopeKind.ALL)


# --- paths -----------------------------------------------------------------------------------

Path = Callable[[Scope], ColumnElement[bool]]


def _in_mutuals(column: Any, scope: Scope) -> ColumnElement[bool]:
    return column.in_(sorted(scope.mutual_ids)) if scope.mutual_ids else false()


def by_mutual(mutual: Any, section: Callable[[int], ColumnElement[bool]] | None) -> Path:
    """Rows of the scope's mutuals; for a section scope, also `section(section_id)` (None:
    mutual-wide rows, which no section sees)."""

    def path(scope: Scope) -> ColumnElement[bool]:
        inside = _in_mutuals(mutual, scope)
        if scope.kind != ScopeKind.SECTION:
            return inside
        if section is None or scope.section_id is None:
            return false()
        return inside & section(scope.section_id)

    return path


def own_section(column: Any) -> Callable[[int], ColumnElement[bool]]:
    return lambda section_id: column == section_id


def household_section(column: Any) -> Callable[[int], ColumnElement[bool]]:
    """Through the row's household: its section (households.section_id)."""
    return lambda section_id: column.in_(
        select(Household.id).where(Household.section_id == section_id)
    )


def agent_section(column: Any) -> Callable[[int], ColumnElement[bool]]:
    """Through the row's agent: the agent's section (agents.section_id)."""
    return lambda section_id: column.in_(select(Agent.id).where(Agent.section_id == section_id))


def _user_path(scope: Scope) -> ColumnElement[bool]:
    """Operators: those whose own scope lies inside this one (a union's admin sees the union's
    and its mutuals' users; a mutual's, the mutual's and its sections')."""
    if scope.kind == ScopeKind.SECTION:
        return User.scope_section_id == scope.section_id
    inside = _in_mutuals(User.scope_mutual_id, scope)
    if scope.kind == ScopeKind.UNION:
        return or_(User.scope_union_id == scope.union_id, inside)
    return inside


def _stored_scope_path(model: type[Any]) -> Path:
    """Rows that carry a scope of their own (API tokens, exports: `scope_*` columns), kept
    when that scope lies inside this one, as for operators."""

    def path(scope: Scope) -> ColumnElement[bool]:
        if scope.kind == ScopeKind.SECTION:
            return model.scope_section_id == scope.section_id  # type: ignore[no-any-return]
        inside = _in_mutuals(model.scope_mutual_id, scope)
        if scope.kind == ScopeKind.UNION:
            return or_(model.scope_union_id == scope.union_id, inside)
        return inside

    return path


def _action_path(scope: Scope) -> ColumnElement[bool]:
    if scope.kind == ScopeKind.SECTION:
        return OperatorAction.section_id == scope.section_id
    inside = _in_mutuals(OperatorAction.mutual_id, scope)
    if scope.kind == ScopeKind.UNION:
        return or_(OperatorAction.union_id == scope.union_id, inside)
    return inside


def _union_path(scope: Scope) -> ColumnElement[bool]:
    return Union.id == scope.union_id if scope.union_id is not None else false()


@cache
def paths() -> dict[type[Any], Path]:
    """Every scoped model and its path (built on first use: no work at import)."""
    by_household = household_section
    return {
        Mutual: by_mutual(Mutual.id, lambda _sid: true()),
        Section: by_mutual(Section.mutual_id, own_section(Section.id)),
        Union: _union_path,
        Household: by_mutual(Household.mutual_id, own_section(Household.section_id)),
        Beneficiary: by_mutual(Beneficiary.mutual_id, by_household(Beneficiary.household_id)),
        Payment: by_mutual(Payment.mutual_id, by_household(Payment.household_id)),
        PaymentIntent: by_mutual(PaymentIntent.mutual_id, by_household(PaymentIntent.household_id)),
        OutboxMessage: by_mutual(OutboxMessage.mutual_id, by_household(OutboxMessage.household_id)),
        Allocation: by_mutual(Allocation.mutual_id, by_household(Allocation.household_id)),
        CashCollection: by_mutual(
            CashCollection.mutual_id, by_household(CashCollection.household_id)
        ),
        Agent: by_mutual(Agent.mutual_id, own_section(Agent.section_id)),
        FacilityCheck: by_mutual(FacilityCheck.mutual_id, agent_section(FacilityCheck.agent_id)),
        HouseholdEvent: by_mutual(
            HouseholdEvent.mutual_id, by_household(HouseholdEvent.household_id)
        ),
        Remittance: by_mutual(Remittance.mutual_id, None),
        Enrolment: by_mutual(Enrolment.mutual_id, own_section(Enrolment.section_id)),
        Alert: by_mutual(Alert.mutual_id, None),
        Campaign: by_mutual(Campaign.mutual_id, None),
        SuspenseItem: by_mutual(SuspenseItem.mutual_id, by_household(SuspenseItem.household_id)),
        ReconAction: by_mutual(ReconAction.mutual_id, by_household(ReconAction.household_id)),
        UssdHop: by_mutual(UssdHop.mutual_id, None),
        UssdSessionEvent: by_mutual(UssdSessionEvent.mutual_id, None),
        User: _user_path,
        ApiToken: _stored_scope_path(ApiToken),
        Export: _stored_scope_path(Export),
        OperatorAction: _action_path,
        StatementFile: by_mutual(StatementFile.mutual_id, None),
        StatementDay: by_mutual(StatementDay.mutual_id, None),
        # D25: funders' statements and payments, levies' remittances: mutual-wide.
        Funder: by_mutual(Funder.mutual_id, None),
        FunderPayment: by_mutual(FunderPayment.mutual_id, None),
        LevyRemittance: by_mutual(LevyRemittance.mutual_id, None),
        # D22: a section's operator sees its section's figures; mutual-wide ones (SMS, USSD,
        # campaigns, levies, checks) are the mutual's.
        Indicator: by_mutual(Indicator.mutual_id, own_section(Indicator.section_id)),
        IndicatorTarget: by_mutual(
            IndicatorTarget.mutual_id, own_section(IndicatorTarget.section_id)
        ),
    }


def path_of(model: type[Any]) -> Path:
    try:
        return paths()[model]
    except KeyError:
        raise UnscopedModel(
            f"{model.__name__} has no scope path: declare it in gateway.console.scope.paths"
        ) from None


def scoped(query: Select[*Ts], model: type[Any], scope: Scope) -> Select[*Ts]:
    """`query` restricted to `model`'s rows inside `scope`."""
    return query.where(scope.condition(model))
