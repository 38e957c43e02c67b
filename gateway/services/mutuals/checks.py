"""Table-driven checking of TOML values: a spec maps each key to a check and a default, and
every problem is reported with the dotted key at fault, so that a file is fixed in one pass."""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from gateway.lib.csv_rows import iso_date


class ConfigError(ValueError):
    """Every problem of a mutual file, one `dotted.key: reason` per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid mutual configuration:\n" + "\n".join(problems))


class Bad(Exception):
    """Raised by a value check; `at` extends the key path (`[2]`, `.csps`)."""

    def __init__(self, reason: str, at: str = "") -> None:
        super().__init__(reason)
        self.at = at


Check = Callable[[Any], Any]
REQUIRED: Any = object()


@dataclass(frozen=True)
class Table:
    spec: Spec


@dataclass(frozen=True)
class Tables:
    spec: Spec


Spec = dict[str, tuple[Check | Table | Tables, Any]]


class Problems(list[str]):
    def add(self, path: str, reason: str) -> None:
        self.append(f"{path}: {reason}")

    def raise_if_any(self) -> None:
        if self:
            raise ConfigError(list(self))


def show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        return "a table" if isinstance(value, dict) else "a list"
    return str(value)


def pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise Bad(f"must be {what}, got {show(value)}")
        return value

    return check


def text(max_len: int) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise Bad(
                f"must be a non-empty text of at most {max_len} characters, got {show(value)}"
            )
        return value.strip()

    return check


def whole(lo: int, hi: int | None = None, unit: str = "") -> Check:
    bound = f">= {lo}" if hi is None else f"between {lo} and {hi}"

    def check(value: Any) -> int:
        if type(value) is not int or value < lo or (hi is not None and value > hi):
            raise Bad(f"must be a whole number{unit} {bound}, got {show(value)}")
        return value

    return check


def choice(*options: str) -> Check:
    def check(value: Any) -> str:
        if value not in options or not isinstance(value, str):
            raise Bad(f"must be one of {', '.join(options)}, got {show(value)}")
        return value

    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"must be true or false, got {show(value)}")
    return value


def date(value: Any) -> dt.date:
    """A TOML date, or the same written as a string."""
    if type(value) is dt.date:
        return value
    if isinstance(value, str):
        try:
            return iso_date(value)
        except ValueError:
            pass
    raise Bad(f"must be a date YYYY-MM-DD, got {show(value)}")


def month_day(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"\d{2}-\d{2}", value):
        try:
            dt.date.fromisoformat(f"2000-{value}")
            return value
        except ValueError:
            pass
    raise Bad(f'must be a day of the year "MM-DD", got {show(value)}')


def country(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise Bad(f'must be an ISO 3166 alpha-2 country code such as "BF", got {show(value)}')
    return value.upper()


def timezone(value: Any) -> str:
    try:
        ZoneInfo(value)
        return str(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise Bad(f'must be a time zone such as "Africa/Ouagadougou", got {show(value)}') from None


def percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise Bad(f"must be a percent between 0 and 100, got {show(value)}")
    return value


def basis_points(value: Any) -> int:
    """Levies are stored in basis points (2.5 % = 250): at most two decimals."""
    points = round(percent(value) * 100)
    if abs(value * 100 - points) > 1e-6:
        raise Bad(f"must have at most two decimals, got {show(value)}")
    return points


def list_of(check: Check, non_empty: bool = False) -> Check:
    def run(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise Bad(f"must be a list, got {show(value)}")
        if non_empty and not value:
            raise Bad("must not be empty")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(check(item))
            except Bad as exc:
                raise Bad(str(exc), at=f"[{i}]") from None
            if items[-1] in items[:-1]:
                raise Bad(f"duplicate {show(item)}", at=f"[{i}]")
        return items

    return run


def read_table(
    raw: Any, spec: Spec, path: str, problems: Problems, collapse: bool = True
) -> dict[str, Any] | None:
    """Check a table against its spec; None when it (or a nested table) has a problem, so
    that cross-key checks only look at clean tables."""
    if not isinstance(raw, dict):
        problems.add(path, f"must be a table, got {show(raw)}")
        return None
    before = len(problems)
    for key in [k for k in raw if k not in spec]:
        hint = difflib.get_close_matches(key, list(spec), n=1)
        guess = f" (did you mean {hint[0]}?)" if hint else ""
        problems.add(_join(path, key), f"unknown key{guess}")
    values: dict[str, Any] = {}
    for key, (check, default) in spec.items():
        if key in raw:
            values[key] = _read_value(raw[key], check, _join(path, key), problems)
        elif default is REQUIRED:
            problems.add(_join(path, key), "is required")
        else:
            values[key] = copy.deepcopy(default)
    return None if collapse and len(problems) > before else values


def _read_value(raw: Any, check: Check | Table | Tables, path: str, problems: Problems) -> Any:
    if isinstance(check, Table):
        return read_table(raw, check.spec, path, problems)
    if isinstance(check, Tables):
        if not isinstance(raw, list):
            problems.add(path, f"must be a list of tables, got {show(raw)}")
            return []
        return [
            read_table(item, check.spec, f"{path}[{i}]", problems) for i, item in enumerate(raw)
        ]
    try:
        return check(raw)
    except Bad as exc:
        problems.add(path + exc.at, str(exc))
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def unique_keys(items: list[Any], key: str, path: str, problems: Problems) -> None:
    """Report each table of `items` whose `key` repeats an earlier one (None = skipped)."""
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if item is not None and item[key] in seen:
            problems.add(f"{path}[{i}].{key}", f"duplicate {show(item[key])}")
        if item is not None:
            seen.add(item[key])
