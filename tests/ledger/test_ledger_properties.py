"""Ledger invariants under random use (payments.md, "Ledger"; architecture.md: property tests for
ledger invariants): whatever balanced postings, payments, replays and reversals happen, all entries
sum to zero, each balance matches a simple model, and the audit stays clean."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import LedgerEntry, LedgerTransaction
from gateway.services import ledger
from gateway.services.ledger import posting
from gateway.services.ledger.errors import LedgerError
from tests.support.factories import make_mutual

DAY = dt.date(2026, 1, 15)
ACCOUNTS = [
    "asset:bank",
    "asset:float:sandbox",
    "income:contributions",
    "expense:fees",
    "liab:suspense:sandbox",
    "equity:opening",
]
amounts = st.integers(-(10**6), 10**6)
free_lines = st.lists(st.tuples(st.sampled_from(ACCOUNTS), amounts), min_size=1, max_size=4)
operations = st.one_of(
    st.tuples(st.just("post"), st.tuples(free_lines, st.sampled_from(ACCOUNTS))),
    st.tuples(st.just("pay"), st.tuples(st.integers(1, 3), st.integers(1, 10**5))),
    st.tuples(st.just("reverse"), st.integers(0, 50)),
    st.tuples(st.just("replay"), st.integers(0, 50)),
)


class Model:
    """What the ledger should hold: balances per account and what was posted, in order."""

    def __init__(self, session: Session, mutual_id: int) -> None:
        self.session, self.mutual_id = session, mutual_id
        self.balances: Counter[str] = Counter()
        self.posted: list[tuple[LedgerTransaction, dict[str, Any]]] = []
        self.reversed: set[int] = set()

    def post(self, lines: list[tuple[str, int]]) -> None:
        args: dict[str, Any] = {
            "mutual_id": self.mutual_id,
            "key": f"op:{len(self.posted)}",
            "kind": "test",
            "occurred_on": DAY,
            "lines": lines,
        }
        if not any(amount for _, amount in lines):
            with pytest.raises(LedgerError):
                posting.post(self.session, **args)
            return
        self.posted.append((posting.post(self.session, **args), args))
        self.balances.update(dict(_sums(lines)))

    def reverse(self, index: int) -> None:
        if not self.posted:
            return
        txn, _ = self.posted[index % len(self.posted)]
        key = f"rev:{txn.id}"
        if txn.id in self.reversed:
            assert (
                posting.reverse(self.session, txn, key=key, occurred_on=DAY).reverses_id == txn.id
            )
            with pytest.raises(LedgerError, match="already reversed"):
                posting.reverse(self.session, txn, key=key + ":again", occurred_on=DAY)
            return
        rev = posting.reverse(self.session, txn, key=key, occurred_on=DAY)
        self.reversed.add(txn.id)
        self.posted.append((rev, {}))
        self.balances.subtract(dict(_sums([(e.account.name, e.amount) for e in txn.entries])))

    def replay(self, index: int) -> None:
        originals = [(txn, args) for txn, args in self.posted if args]
        if originals:
            txn, args = originals[index % len(originals)]
            assert posting.post(self.session, **args).id == txn.id


def _sums(lines: list[tuple[str, int]]) -> Counter[str]:
    sums: Counter[str] = Counter()
    for name, amount in lines:
        sums[name] += amount
    return sums


def _apply(model: Model, op: str, arg: Any) -> None:
    if op == "post":
        lines, balancing = arg
        total = sum(amount for _, amount in lines)
        model.post([*lines, (balancing, -total)])
    elif op == "pay":
        household, amount = arg
        model.post(
            [("asset:float:sandbox", amount), (ledger.accounts.household(household), -amount)]
        )
    elif op == "reverse":
        model.reverse(arg)
    else:
        model.replay(arg)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(operations, max_size=12))
def test_random_postings_keep_the_ledger_balanced(
    session_factory: sessionmaker[Session], ops: list[tuple[str, Any]]
) -> None:
    """Every transaction balances, so the whole ledger sums to zero (payments.md)."""
    with session_factory() as session:
        model = Model(session, make_mutual(session).id)
        for op, arg in ops:
            _apply(model, op, arg)
        total = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
        assert total == 0
        assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == len(
            model.posted
        )
        for name, expected in model.balances.items():
            assert posting.balance(session, model.mutual_id, name) == expected
        assert ledger.audit(session) == []
        session.rollback()
