"""Operators of the console (D27, issue 16): users with a role and a scope, unions, sign-in
with lock-out and TOTP, and the append-only log of their actions."""

from gateway.services.operators.actions import Actor, Where, record_action
from gateway.services.operators.passwords import (
    MIN_PASSWORD_LENGTH,
    PasswordError,
    hash_password,
    verify_password,
)
from gateway.services.operators.signin import (
    LOCK_AFTER,
    LOCK_FOR,
    Attempt,
    check_code,
    check_password,
    find_user,
    signed_in,
)
from gateway.services.operators.totp import code_at, matching_step, new_secret, provisioning_uri
from gateway.services.operators.users import (
    TOTP_ROLES,
    NewUser,
    OperatorError,
    ScopeRef,
    add_union,
    add_user,
    attach_mutual,
    describe,
    normalize_login,
    parse_scope,
    reset_password,
    scope_of,
    set_active,
    unlock,
)

__all__ = [
    "LOCK_AFTER",
    "LOCK_FOR",
    "MIN_PASSWORD_LENGTH",
    "TOTP_ROLES",
    "Actor",
    "Attempt",
    "NewUser",
    "OperatorError",
    "PasswordError",
    "ScopeRef",
    "Where",
    "add_union",
    "add_user",
    "attach_mutual",
    "check_code",
    "check_password",
    "code_at",
    "describe",
    "find_user",
    "hash_password",
    "matching_step",
    "new_secret",
    "normalize_login",
    "parse_scope",
    "provisioning_uri",
    "record_action",
    "reset_password",
    "scope_of",
    "set_active",
    "signed_in",
    "unlock",
    "verify_password",
]
