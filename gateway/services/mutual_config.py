"""Create or update a mutual from its TOML file (interfaces.md, Files; D1-D4, D14-D15).

Validation is table-driven and reports every problem with the dotted key at fault, so that an
operator fixes a file in one pass. Loading is an upsert by code: reloading changes nothing."""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Campaign, Funder, Levy, Mutual, Product, ReminderRule, Section, Subsidy
from gateway.services.periods import period_holding, period_starting_on_or_after

# messaging.md, standard template keys: a reminder naming another one is a typo.
TEMPLATES = (
    "campaign_opening",
    "campaign_reminder",
    "campaign_closing",
    "coverage_ending",
    "coverage_ended",
    "payment_receipt",
    "payment_partial",
    "payment_failed",
    "cash_receipt",
    "optout_ack",
    "optin_ack",
    "help",
    "status",
)
SECRET_WORDS = ("secret", "password", "api_key", "apikey", "token", "private")


class ConfigError(ValueError):
    """Every problem of a mutual file, one `dotted.key: reason` per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid mutual configuration:\n" + "\n".join(problems))


class _Bad(Exception):
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


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        return "a table" if isinstance(value, dict) else "a list"
    return str(value)


def _pattern(regex: str, what: str) -> Check:
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise _Bad(f"must be {what}, got {_show(value)}")
        return value

    return check


def _text(max_len: int) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value) > max_len:
            raise _Bad(
                f"must be a non-empty text of at most {max_len} characters, got {_show(value)}"
            )
        return value.strip()

    return check


def _whole(lo: int, hi: int | None = None, unit: str = "") -> Check:
    bound = f">= {lo}" if hi is None else f"between {lo} and {hi}"

    def check(value: Any) -> int:
        if type(value) is not int or value < lo or (hi is not None and value > hi):
            raise _Bad(f"must be a whole number{unit} {bound}, got {_show(value)}")
        return value

    return check


def _choice(*options: str) -> Check:
    def check(value: Any) -> str:
        if value not in options or not isinstance(value, str):
            raise _Bad(f"must be one of {', '.join(options)}, got {_show(value)}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, got {_show(value)}")
    return value


def _date(value: Any) -> dt.date:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    if type(value) is dt.date:
        return value
    raise _Bad(f"must be a date YYYY-MM-DD, got {_show(value)}")


def _month_day(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"\d{2}-\d{2}", value):
        try:
            dt.date.fromisoformat(f"2000-{value}")
            return value
        except ValueError:
            pass
    raise _Bad(f'must be a day of the year "MM-DD", got {_show(value)}')


def _country(value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise _Bad(f'must be an ISO 3166 alpha-2 country code such as "BF", got {_show(value)}')
    return value.upper()


def _timezone(value: Any) -> str:
    try:
        ZoneInfo(value)
        return str(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise _Bad(
            f'must be a time zone such as "Africa/Ouagadougou", got {_show(value)}'
        ) from None


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise _Bad(f"must be a percent between 0 and 100, got {_show(value)}")
    return value


def _basis_points(value: Any) -> int:
    """Levies are stored in basis points (2.5 % = 250): at most two decimals."""
    points = round(_percent(value) * 100)
    if abs(value * 100 - points) > 1e-6:
        raise _Bad(f"must have at most two decimals, got {_show(value)}")
    return points


def _copay(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Bad(f"must be a table of level = percent, got {_show(value)}")
    for level, pct in value.items():
        try:
            _percent(pct)
        except _Bad as exc:
            raise _Bad(str(exc), at=f".{level}") from None
    return dict(value)


def _list_of(check: Check, non_empty: bool = False) -> Check:
    def run(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _Bad(f"must be a list, got {_show(value)}")
        if non_empty and not value:
            raise _Bad("must not be empty")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(check(item))
            except _Bad as exc:
                raise _Bad(str(exc), at=f"[{i}]") from None
            if items[-1] in items[:-1]:
                raise _Bad(f"duplicate {_show(item)}", at=f"[{i}]")
        return items

    return run


def _quiet_hours(value: Any) -> list[str]:
    hours: list[str] = _list_of(_pattern(r"([01]\d|2[0-3]):[0-5]\d", 'a time "HH:MM"'))(value)
    if len(hours) != 2 or hours[0] >= hours[1]:
        raise _Bad('must be ["HH:MM", "HH:MM"], the sending window\'s start then end')
    return hours


def _payment_settings(value: Any) -> dict[str, Any]:
    """The provider's non-secret settings; secrets come from the environment."""
    if not isinstance(value, dict):
        raise _Bad(f"must be a table, got {_show(value)}")
    for key in value:
        if any(word in key.lower() for word in SECRET_WORDS):
            raise _Bad("secrets come from the environment, not from this file", at=f".{key}")
    return dict(value)


_code = _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", "a code of letters, digits, '_', '-', '.'")
_category = _pattern(r"[a-z][a-z0-9_-]{0,31}", "a lower-case category name")
_levy_name = _pattern(r"[A-Za-z0-9_-]{1,64}", "a name of letters, digits, '_' or '-'")
_language = _pattern(r"[a-z]{2,3}", 'a language code such as "fr"')
_service_code = _pattern(r"\*\d+(\*\d+)*#", 'a USSD code such as "*123#"')
_sender_id = _pattern(r"[A-Za-z0-9 ]{1,11}", "at most 11 letters, digits or spaces")


class _Problems(list[str]):
    def add(self, path: str, reason: str) -> None:
        self.append(f"{path}: {reason}")

    def raise_if_any(self) -> None:
        if self:
            raise ConfigError(list(self))


def _read_table(
    raw: Any, spec: Spec, path: str, problems: _Problems, collapse: bool = True
) -> dict[str, Any] | None:
    """Check a table against its spec; None when it (or a nested table) has a problem, so
    that cross-key checks only look at clean tables."""
    if not isinstance(raw, dict):
        problems.add(path, f"must be a table, got {_show(raw)}")
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


def _read_value(raw: Any, check: Check | Table | Tables, path: str, problems: _Problems) -> Any:
    if isinstance(check, Table):
        return _read_table(raw, check.spec, path, problems)
    if isinstance(check, Tables):
        if not isinstance(raw, list):
            problems.add(path, f"must be a list of tables, got {_show(raw)}")
            return []
        return [
            _read_table(item, check.spec, f"{path}[{i}]", problems) for i, item in enumerate(raw)
        ]
    try:
        return check(raw)
    except _Bad as exc:
        problems.add(path + exc.at, str(exc))
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _unique_keys(items: list[Any], key: str, path: str, problems: _Problems) -> None:
    seen: set[Any] = set()
    for i, item in enumerate(items):
        if item is not None and item[key] in seen:
            problems.add(f"{path}[{i}].{key}", f"duplicate {_show(item[key])}")
        if item is not None:
            seen.add(item[key])


def _slug(name: str) -> str:
    """A funder's code from its name: `Ministère de l'Action sociale` -> `ministere-de-l-...`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:64] or "funder"


DEFAULT_TEMPLATES = {
    "opens": "campaign_opening",
    "closes": "campaign_closing",
    "coverage_end": "coverage_ending",
}

MUTUAL: Spec = {
    "code": (_code, REQUIRED),
    "name": (_text(200), REQUIRED),
    "country": (_country, REQUIRED),
    "timezone": (_timezone, REQUIRED),
    "languages": (_list_of(_language, non_empty=True), ["fr"]),
    "service_codes": (_list_of(_service_code), []),
    "sms_sender_id": (_sender_id, None),
    "contact": (_text(120), None),
    "quiet_hours": (_quiet_hours, ["08:00", "20:00"]),
    "catch_up_hours": (_whole(0, unit=" of hours"), 48),
    "sections": (_list_of(_text(120)), []),
    "payment_provider": (_choice("sandbox", "cinetpay", "mtnmomo"), "sandbox"),
}
SUBSIDY: Spec = {
    "category": (_category, REQUIRED),
    "member_share": (_whole(0, 100), REQUIRED),
    "funder": (_text(200), None),
}
LEVY: Spec = {"name": (_levy_name, REQUIRED), "percent": (_basis_points, REQUIRED)}
PRODUCT: Spec = {
    "code": (_code, REQUIRED),
    "name": (_text(200), REQUIRED),
    "period": (_choice("year", "month"), "year"),
    "contribution": (_whole(0, unit=" of XOF"), REQUIRED),
    "registration_fee": (_whole(0, unit=" of XOF"), 0),
    "waiting_days": (_whole(0, unit=" of days"), 0),
    "grace_days": (_whole(0, unit=" of days"), 0),
    "join_window_days": (_whole(0, unit=" of days"), None),
    "coverage_start": (_month_day, "01-01"),
    "installments": (_boolean, True),
    "newborn_waiting": (_boolean, True),
    "copay": (_copay, {}),
    "subsidies": (Tables(SUBSIDY), []),
    "levies": (Tables(LEVY), []),
}
REMINDER: Spec = {
    "anchor": (_choice(*DEFAULT_TEMPLATES), REQUIRED),
    "offset_days": (_whole(-3660, 3660, " of days"), 0),
    "repeat_every_days": (_whole(1, unit=" of days"), None),
    "template": (_choice(*TEMPLATES), None),
}
CAMPAIGN: Spec = {
    "code": (_code, REQUIRED),
    "name": (_text(200), REQUIRED),
    "opens_on": (_date, REQUIRED),
    "closes_on": (_date, REQUIRED),
    "product": (_code, None),
    "for_period": (_date, None),
    "sections": (_list_of(_text(120)), []),
    "reminders": (Tables(REMINDER), []),
}
ROOT: Spec = {
    "mutual": (Table(MUTUAL), REQUIRED),
    "payment": (_payment_settings, {}),
    "products": (Tables(PRODUCT), []),
    "campaigns": (Tables(CAMPAIGN), []),
}


def load_mutual(session: Session, text_or_path: str | Path) -> Mutual:
    """Validate the whole file, then create or update the mutual in place (idempotent).

    A `Path`, or a string without `[`, is a file to read; any other string is TOML text."""
    problems = _Problems()
    config = _read_table(_parse(text_or_path), ROOT, "", problems, collapse=False)
    if config is not None:
        _check_file(config, problems)
    problems.raise_if_any()
    assert config is not None
    existing = session.scalars(
        select(Mutual).where(Mutual.code == config["mutual"]["code"])
    ).one_or_none()
    _resolve_campaigns(config, existing, problems)
    problems.raise_if_any()
    return _apply(session, config, existing)


def _parse(text_or_path: str | Path) -> dict[str, Any]:
    source = "TOML"
    if isinstance(text_or_path, Path) or "[" not in text_or_path:
        source = str(text_or_path)
        try:
            text = Path(text_or_path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{source}: cannot read: {exc}"]) from exc
    else:
        text = text_or_path
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from exc


def _check_file(config: dict[str, Any], problems: _Problems) -> None:
    """Rules that span several keys; tables with a problem of their own are None here."""
    _unique_keys(config["products"], "code", "products", problems)
    for i, product in enumerate(config["products"]):
        if product is None:
            continue
        path = f"products[{i}]"
        if product["join_window_days"] is None:
            product["join_window_days"] = product["grace_days"]
        if product["period"] == "month" and product["coverage_start"] != "01-01":
            problems.add(f"{path}.coverage_start", "monthly products follow calendar months")
        _unique_keys(product["subsidies"], "category", f"{path}.subsidies", problems)
        _unique_keys(product["levies"], "name", f"{path}.levies", problems)
        for j, subsidy in enumerate(product["subsidies"]):
            if subsidy["member_share"] < 100 and not subsidy["funder"]:
                problems.add(f"{path}.subsidies[{j}].funder", "is required when member_share < 100")
        if sum(levy["percent"] for levy in product["levies"]) > 10_000:
            problems.add(f"{path}.levies", "percents add up to more than 100")
    _unique_keys(config["campaigns"], "code", "campaigns", problems)
    for i, campaign in enumerate(config["campaigns"]):
        if campaign is None:
            continue
        if campaign["closes_on"] < campaign["opens_on"]:
            problems.add(f"campaigns[{i}].closes_on", "is before opens_on")
        keys = [(r["anchor"], r["offset_days"]) for r in campaign["reminders"]]
        if len(set(keys)) != len(keys):
            problems.add(f"campaigns[{i}].reminders", "two rules with the same anchor and offset")


def _resolve_campaigns(
    config: dict[str, Any], existing: Mutual | None, problems: _Problems
) -> None:
    """Default and check each campaign's product, sections and period against the file and
    what the mutual already has (sections and products are never deleted)."""
    products = {p.code: p for p in existing.products} if existing else {}
    products.update({p["code"]: Product(**_product_values(p)) for p in config["products"]})
    sections = set(config["mutual"]["sections"])
    if existing is not None:
        sections.update(s.name for s in existing.sections)
    for i, campaign in enumerate(config["campaigns"]):
        path = f"campaigns[{i}]"
        code = campaign["product"] or next(iter(products), None)
        if code not in products:
            problems.add(f"{path}.product", f"unknown product {code!r}" if code else "no product")
            continue
        campaign["product"] = code
        for name in campaign["sections"]:
            if name not in sections:
                problems.add(f"{path}.sections", f"unknown section {name!r}")
        product = products[code]
        if campaign["for_period"] is None:
            first = period_starting_on_or_after(product, campaign["opens_on"])
            campaign["for_period"] = first.start
        elif period_holding(product, campaign["for_period"]).start != campaign["for_period"]:
            problems.add(f"{path}.for_period", "is not the first day of a coverage period")


def _apply(session: Session, config: dict[str, Any], mutual: Mutual | None) -> Mutual:
    if mutual is None:
        mutual = Mutual(code=config["mutual"]["code"])
        session.add(mutual)
    _assign(mutual, _mutual_values(config["mutual"], config["payment"]))
    have = {s.name for s in mutual.sections}
    for name in config["mutual"]["sections"]:
        if name not in have:
            mutual.sections.append(Section(name=name))
    funders = _sync_funders(mutual, config["products"])
    products = {p.code: p for p in mutual.products}
    for values in config["products"]:
        product = products.get(values["code"])
        if product is None:
            product = products[values["code"]] = Product(code=values["code"])
            mutual.products.append(product)
        _sync_product(product, values, funders)
    session.flush()
    _sync_campaigns(session, mutual, config["campaigns"], products)
    session.flush()
    return mutual


def _mutual_values(values: dict[str, Any], payment: dict[str, Any]) -> dict[str, Any]:
    opens, closes = (dt.time.fromisoformat(t) for t in values["quiet_hours"])
    keep = set(MUTUAL) - {"code", "quiet_hours", "sections"}
    return {
        **{key: values[key] for key in keep},
        # The file gives the sending window; the model stores the quiet hours around it (D16).
        "quiet_hours_end": opens,
        "quiet_hours_start": closes,
        "payment_settings": payment,
    }


def _sync_funders(mutual: Mutual, products: list[dict[str, Any]]) -> dict[str, Funder]:
    """Funders are named by subsidies; their code is a slug of that name."""
    funders = {f.code: f for f in mutual.funders}
    for product in products:
        for subsidy in product["subsidies"]:
            name = subsidy["funder"]
            if not name:
                continue
            code = _slug(name)
            if code not in funders:
                funders[code] = Funder(code=code, name=name)
                mutual.funders.append(funders[code])
            _assign(funders[code], {"name": name})
    return funders


def _product_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in ("subsidies", "levies")}


def _sync_product(product: Product, values: dict[str, Any], funders: dict[str, Funder]) -> None:
    _assign(product, _product_values(values))
    subsidies = {s.category: s for s in product.subsidies}
    for spec in values["subsidies"]:
        subsidy = subsidies.pop(spec["category"], None)
        if subsidy is None:
            subsidy = Subsidy(category=spec["category"])
            product.subsidies.append(subsidy)
        funder = funders[_slug(spec["funder"])] if spec["funder"] else None
        _assign(subsidy, {"member_share": spec["member_share"], "funder": funder})
    for gone in subsidies.values():
        product.subsidies.remove(gone)
    levies = {levy.name: levy for levy in product.levies}
    for spec in values["levies"]:
        levy = levies.pop(spec["name"], None)
        if levy is None:
            levy = Levy(name=spec["name"])
            product.levies.append(levy)
        _assign(levy, {"basis_points": spec["percent"]})
    for old in levies.values():
        product.levies.remove(old)


def _sync_campaigns(
    session: Session, mutual: Mutual, configs: list[dict[str, Any]], products: dict[str, Product]
) -> None:
    query = select(Campaign).where(Campaign.mutual_id == mutual.id)
    campaigns = {c.code: c for c in session.scalars(query)}
    for values in configs:
        campaign = campaigns.get(values["code"])
        if campaign is None:
            campaign = Campaign(mutual=mutual, code=values["code"])
            session.add(campaign)
        fields = {k: values[k] for k in ("name", "opens_on", "closes_on", "for_period", "sections")}
        _assign(campaign, {**fields, "product": products[values["product"]]})
        _sync_reminders(campaign, values["reminders"])


def _sync_reminders(campaign: Campaign, configs: list[dict[str, Any]]) -> None:
    """Rules are matched by (anchor, offset_days): the same moment is the same rule (D17)."""
    rules = {(r.anchor, r.offset_days): r for r in campaign.reminders}
    for values in configs:
        rule = rules.pop((values["anchor"], values["offset_days"]), None)
        if rule is None:
            rule = ReminderRule(anchor=values["anchor"], offset_days=values["offset_days"])
            campaign.reminders.append(rule)
        template = values["template"] or DEFAULT_TEMPLATES[values["anchor"]]
        _assign(rule, {"repeat_every_days": values["repeat_every_days"], "template": template})
    for gone in rules.values():
        campaign.reminders.remove(gone)


def _assign(obj: object, values: dict[str, Any]) -> None:
    """Set only what differs, so that a reload leaves every row untouched."""
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
