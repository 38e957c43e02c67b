"""gateway.services.operators: the lock-out counter under concurrent attempts (row lock, as
the agents' PIN), the append-only log, password rehash, logins."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from gateway.models import Role, User
from gateway.services.operators import (
    LOCK_AFTER,
    OperatorError,
    check_password,
    normalize_login,
    passwords,
)
from tests.console.conftest import TwoMutuals
from tests.support.console import NOW, PASSWORD, make_user


@pytest.mark.postgres
def test_concurrent_wrong_passwords_are_counted_one_after_another(
    db: Session, two: TwoMutuals, session_factory: sessionmaker[Session]
) -> None:
    """Twelve guesses at once: exactly LOCK_AFTER are compared (LOCK_AFTER - 1 "wrong", one
    "locked" by the last failure), the others find the lock; no count is lost."""
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    outcomes: Counter[str] = Counter()
    start = threading.Barrier(12)

    def guess() -> None:
        with session_factory() as session:
            start.wait()
            attempt = check_password(session, "gerant@ma.bf", "a wrong guess", NOW)
            session.commit()
            outcomes[attempt.outcome] += 1

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"wrong": LOCK_AFTER - 1, "locked": 12 - (LOCK_AFTER - 1)}
    db.expire_all()
    assert db.scalars(select(User.failed_attempts)).one() == LOCK_AFTER


def test_operator_actions_are_append_only(db: Session, two: TwoMutuals) -> None:
    make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    db.commit()
    for sql in ("UPDATE operator_actions SET reason = 'x'", "DELETE FROM operator_actions"):
        with pytest.raises(DatabaseError, match="append-only"):
            db.execute(text(sql))
        db.rollback()


def test_an_old_hash_is_upgraded_at_sign_in(
    db: Session, two: TwoMutuals, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(db, "gerant@ma.bf", Role.MANAGER, two.scope_a)
    old = user.password_hash
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=64, parallelism=1)
    )
    assert check_password(db, "gerant@ma.bf", PASSWORD, NOW).outcome == "ok"
    assert user.password_hash != old and "t=2" in user.password_hash


def test_logins_are_emails_or_phones() -> None:
    assert normalize_login(" Awa@Mutuelle.BF ") == "awa@mutuelle.bf"
    assert normalize_login("+226 70-11.22.33") == "+22670112233"
    for bad in ("awa", "70112233", "+0123", "a@b"):
        with pytest.raises(OperatorError):
            normalize_login(bad)
