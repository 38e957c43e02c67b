"""What a mutual's TOML file holds (interfaces.md, Files; D1-D4, D14-D15): the spec of each
table, and the rules that span several keys of the file."""

from __future__ import annotations

from typing import Any

from gateway.lib.catalogs import LANGUAGES
from gateway.models.mutual import SMS_NAME_MAX
from gateway.services.messaging import TEMPLATE_KEYS
from gateway.services.mutuals import checks
from gateway.services.mutuals.checks import REQUIRED, Bad, Problems, Spec, Tables, show

# messaging.md's standard template keys: a reminder naming another one is a typo.
TEMPLATES = TEMPLATE_KEYS
SECRET_WORDS = ("secret", "password", "api_key", "apikey", "token", "private")
DEFAULT_TEMPLATES = {
    "opens": "campaign_opening",
    "closes": "campaign_closing",
    "coverage_end": "coverage_ending",
}


def default_template(anchor: str, offset_days: int) -> str:
    """A rule without a template gets its anchor's; one sent before the campaign opens (a
    negative offset from `opens`, D15) announces it rather than saying it is open."""
    if anchor == "opens" and offset_days < 0:
        return "campaign_announce"
    return DEFAULT_TEMPLATES[anchor]


def _copay(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Bad(f"must be a table of level = percent, got {show(value)}")
    for level, pct in value.items():
        try:
            checks.percent(pct)
        except Bad as exc:
            raise Bad(str(exc), at=f".{level}") from None
    return dict(value)


def _quiet_hours(value: Any) -> list[str]:
    hours: list[str] = checks.list_of(_hour)(value)
    if len(hours) != 2 or hours[0] >= hours[1]:
        raise Bad('must be ["HH:MM", "HH:MM"], the sending window\'s start then end')
    return hours


def _payment_settings(value: Any) -> dict[str, Any]:
    """The provider's non-secret settings; secrets come from the environment."""
    if not isinstance(value, dict):
        raise Bad(f"must be a table, got {show(value)}")
    for key, item in value.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            raise Bad("secrets come from the environment, not from this file", at=f".{key}")
        if not _plain(item):
            raise Bad(
                f"must be text, a number, true/false or a list of them, got {show(item)}",
                at=f".{key}",
            )
        if key in RECONCILIATION_KEYS:
            try:
                RECONCILIATION_KEYS[key](item)
            except Bad as exc:
                raise Bad(str(exc), at=f".{key}") from None
    return dict(value)


def _language(value: Any) -> str:
    """A language the menus and SMS can speak: one with a catalog in gateway/locales."""
    code: str = _language_code(value)
    if code not in LANGUAGES:
        have = ", ".join(LANGUAGES)
        raise Bad(f"no catalog for {show(code)} in gateway/locales (languages: {have})")
    return code


def _plain(item: Any) -> bool:
    """Stored as JSON: dates, times and nested tables have no place in provider settings."""
    if isinstance(item, list):
        return all(_plain(x) for x in item)
    return isinstance(item, str | int | float | bool)


_hour = checks.pattern(r"([01]\d|2[0-3]):[0-5]\d", 'a time "HH:MM"')
_code = checks.pattern(
    r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", "a code of letters, digits, '_', '-', '.'"
)
_category = checks.pattern(r"[a-z][a-z0-9_-]{0,31}", "a lower-case category name")
_levy_name = checks.pattern(r"[A-Za-z0-9_-]{1,64}", "a name of letters, digits, '_' or '-'")
_language_code = checks.pattern(r"[a-z]{2,3}", 'a language code such as "fr"')
_service_code = checks.pattern(r"\*\d+(\*\d+)*#", 'a USSD code such as "*123#"')
_sender_id = checks.pattern(r"[A-Za-z0-9 ]{1,11}", "at most 11 letters, digits or spaces")
_days = checks.whole(0, unit=" of days")
_xof = checks.whole(0, unit=" of XOF")
# Reconciliation settings kept in the [payment] table (payments.md, Reconciliation): an
# assignment of suspense money above approval_threshold XOF needs a second person; a credited
# intent may wait settlement_lag_hours for its statement line before it is overdue.
RECONCILIATION_KEYS = {
    "approval_threshold": _xof,
    "settlement_lag_hours": checks.whole(0, unit=" of hours"),
}

MUTUAL: Spec = {
    "code": (_code, REQUIRED),
    "name": (checks.text(200), REQUIRED),
    "short_name": (checks.text(SMS_NAME_MAX), None),
    "country": (checks.country, REQUIRED),
    "timezone": (checks.timezone, REQUIRED),
    "languages": (checks.list_of(_language, non_empty=True), ["fr"]),
    "service_codes": (checks.list_of(_service_code), []),
    "sms_sender_id": (_sender_id, None),
    "contact": (checks.text(120), None),
    "quiet_hours": (_quiet_hours, ["08:00", "20:00"]),
    "catch_up_hours": (checks.whole(0, unit=" of hours"), 48),
    "cash_max_days": (checks.whole(1, 365, unit=" of days"), 7),
    # A payment above this many years of the household's shares waits for an operator; 0: never.
    "payment_hold_multiple": (checks.whole(0, 100, unit=" years of shares"), 5),
    "sections": (checks.list_of(checks.text(120)), []),
    "payment_provider": (checks.choice("sandbox", "cinetpay", "mtnmomo"), "sandbox"),
}
SUBSIDY: Spec = {
    "category": (_category, REQUIRED),
    "member_share": (checks.whole(0, 100), REQUIRED),
    "funder": (checks.text(200), None),
}
LEVY: Spec = {"name": (_levy_name, REQUIRED), "percent": (checks.basis_points, REQUIRED)}
PRODUCT: Spec = {
    "code": (_code, REQUIRED),
    "name": (checks.text(200), None),  # interfaces.md: optional, default the code
    "period": (checks.choice("year", "month"), "year"),
    "contribution": (_xof, REQUIRED),
    "registration_fee": (_xof, 0),
    "waiting_days": (_days, 0),
    "grace_days": (_days, 0),
    "join_window_days": (_days, None),
    "renewal_notice_days": (checks.whole(0, 366, " of days"), 60),
    "coverage_start": (checks.month_day, "01-01"),
    "installments": (checks.boolean, True),
    "newborn_waiting": (checks.boolean, True),
    "copay": (_copay, {}),
    "subsidies": (Tables(SUBSIDY), []),
    "levies": (Tables(LEVY), []),
}
REMINDER: Spec = {
    "anchor": (checks.choice(*DEFAULT_TEMPLATES), REQUIRED),
    "offset_days": (checks.whole(-3660, 3660, " of days"), 0),
    "repeat_every_days": (checks.whole(1, unit=" of days"), None),
    "template": (checks.choice(*TEMPLATES), None),
}
CAMPAIGN: Spec = {
    "code": (_code, REQUIRED),
    "budget": (_xof, None),  # cap on the estimated SMS cost; None: no cap
    "name": (checks.text(200), REQUIRED),
    "opens_on": (checks.date, REQUIRED),
    "closes_on": (checks.date, REQUIRED),
    "product": (_code, None),
    "for_period": (checks.date, None),
    "sections": (checks.list_of(checks.text(120)), []),
    "reminders": (Tables(REMINDER), []),
}
_prefix = checks.pattern(r"\+\d{1,8}", 'an E.164 prefix such as "+22607"')
OPERATOR: Spec = {
    "name": (checks.text(32), REQUIRED),
    "prefixes": (checks.list_of(_prefix, non_empty=True), REQUIRED),
    "price_per_segment": (_xof, REQUIRED),
}
SMS: Spec = {  # SMS prices (messaging.md "Text and cost"), stored in mutuals.sms_settings
    "price_per_segment": (_xof, 25),
    "operators": (Tables(OPERATOR), []),
}
ROOT: Spec = {
    "mutual": (checks.Table(MUTUAL), REQUIRED),
    "payment": (_payment_settings, {}),
    "sms": (checks.Table(SMS), {"price_per_segment": 25, "operators": []}),
    "products": (Tables(PRODUCT), []),
    "campaigns": (Tables(CAMPAIGN), []),
}


def check_file(config: dict[str, Any], problems: Problems) -> None:
    """Rules that span several keys; tables with a problem of their own are None here."""
    checks.unique_keys(config["products"], "code", "products", problems)
    for i, product in enumerate(config["products"]):
        if product is not None:
            _check_product(product, f"products[{i}]", problems)
    checks.unique_keys(config["campaigns"], "code", "campaigns", problems)
    if config["sms"] is not None:
        checks.unique_keys(config["sms"]["operators"], "name", "sms.operators", problems)
    for i, campaign in enumerate(config["campaigns"]):
        if campaign is None:
            continue
        if campaign["closes_on"] < campaign["opens_on"]:
            problems.add(f"campaigns[{i}].closes_on", "is before opens_on")
        keys = [(r["anchor"], r["offset_days"]) for r in campaign["reminders"]]
        if len(set(keys)) != len(keys):
            problems.add(f"campaigns[{i}].reminders", "two rules with the same anchor and offset")


def _check_product(product: dict[str, Any], path: str, problems: Problems) -> None:
    if product["name"] is None:
        product["name"] = product["code"]
    if product["join_window_days"] is None:
        product["join_window_days"] = product["grace_days"]
    if product["period"] == "month" and product["coverage_start"] != "01-01":
        problems.add(f"{path}.coverage_start", "monthly products follow calendar months")
    checks.unique_keys(product["subsidies"], "category", f"{path}.subsidies", problems)
    checks.unique_keys(product["levies"], "name", f"{path}.levies", problems)
    for j, subsidy in enumerate(product["subsidies"]):
        if subsidy["member_share"] < 100 and not subsidy["funder"]:
            problems.add(f"{path}.subsidies[{j}].funder", "is required when member_share < 100")
    if sum(levy["percent"] for levy in product["levies"]) > 10_000:
        problems.add(f"{path}.levies", "percents add up to more than 100")
