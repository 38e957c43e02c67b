"""A USSD session's stored memory checked against the journeys' TypedDicts
(gateway.menus.journeys.memory) at run time: every key declared, required keys present,
values of the declared JSON types. mypy checks the code that writes the memory; this checks
the JSON that reaches Redis."""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from gateway.menus.journeys.memory import (
    CashMemory,
    EnrolMemory,
    PayMemory,
    RemitMemory,
    ResumeMemory,
    VerifyMemory,
    VisitorMemory,
)


class AgentSession(CashMemory, RemitMemory, VerifyMemory, EnrolMemory, total=False):
    """An agent's session may hold the keys of every agent journey."""


# caller.identify's kinds -> what a session of that kind may remember.
SESSIONS: dict[str, type] = {
    "member": PayMemory,
    "agent": AgentSession,
    "visitor": VisitorMemory,
    "resume": ResumeMemory,
}


def memory_problems(data: dict[str, Any]) -> list[str]:
    """Why a frame's stored memory does not match its kind's TypedDict (none: it matches)."""
    kind = data.get("kind")
    if kind not in SESSIONS:
        return [f"kind: {kind!r} is not one of {sorted(SESSIONS)}"]
    return problems(data, SESSIONS[kind], "data")


def problems(value: object, hint: Any, path: str) -> list[str]:
    if hint is Any or hint is object:
        return []
    if is_typeddict(hint):
        return _typed_dict(value, hint, path)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        arms = [problems(value, arm, path) for arm in args]
        return [] if any(not found for found in arms) else [f"{path}: {value!r} is not {hint}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [p for i, item in enumerate(value) for p in problems(item, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        return [p for k, v in value.items() for p in problems(v, args[1], f"{path}.{k}")]
    expected = type(None) if hint is None else hint
    # Exact types: JSON keeps true and 1 apart, and so must the memory.
    return [] if type(value) is expected else [f"{path}: {value!r} is not {expected.__name__}"]


def _typed_dict(value: object, hint: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not an object"]
    declared = get_type_hints(hint)
    name = hint.__name__
    found = [f"{path}.{key}: not declared in {name}" for key in value if key not in declared]
    found += [f"{path}.{key}: missing" for key in hint.__required_keys__ if key not in value]
    for key, item in value.items():
        if key in declared:
            found += problems(item, declared[key], f"{path}.{key}")
    return found
