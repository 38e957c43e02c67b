"""Create or update a mutual from its TOML file (interfaces.md, Files; D1-D4, D14-D15).

The whole file is checked first (`mutual_config_schema`), every problem reported with the dotted
key at fault, so that an operator fixes a file in one pass. Loading is an upsert by code:
reloading changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.models import Campaign, Funder, Levy, Mutual, Product, ReminderRule, Section, Subsidy
from gateway.models.mutual import SMS_NAME_MAX
from gateway.services.coverage import period_holding, period_starting_on_or_after
from gateway.services.messaging import overflows
from gateway.services.mutuals.checks import ConfigError, Problems, read_table
from gateway.services.mutuals.schema import MUTUAL, ROOT, check_file, default_template

__all__ = ["ConfigError", "load_mutual"]

Child = TypeVar("Child")
Key = TypeVar("Key", bound=Hashable)


def load_mutual(
    session: Session, text_or_path: str | Path, *, allow_sandbox: bool = True
) -> Mutual:
    """Validate the whole file, then create or update the mutual in place (idempotent).

    A `Path`, or a string without `[`, is a file to read; any other string is TOML text.
    `allow_sandbox=False` (production without its opt-in) refuses the sandbox payment provider,
    which credits payments no provider collected (issue 15)."""
    problems = Problems()
    config = read_table(_parse(text_or_path), ROOT, "", problems, collapse=False)
    if config is not None:
        check_file(config, problems)
        _check_templates(config, problems)
        if not allow_sandbox:
            _refuse_sandbox(config["mutual"], problems)
    problems.raise_if_any()
    assert config is not None
    existing = session.scalars(
        select(Mutual).where(Mutual.code == config["mutual"]["code"])
    ).one_or_none()
    _check_service_codes(session, config["mutual"], problems)
    _resolve_campaigns(config, existing, problems)
    problems.raise_if_any()
    return _apply(session, config, existing)


def _check_templates(config: dict[str, Any], problems: Problems) -> None:
    """Every SMS template, in each of the mutual's languages, fits one segment with the
    mutual's own name, contact and campaign names (issue 15: a help SMS that does not fit is
    never sent)."""
    mutual = config["mutual"]
    if mutual is None:
        return
    values = {
        "mutual": (mutual["short_name"] or mutual["code"])[:SMS_NAME_MAX],
        "contact": mutual["contact"] or "-",
    }
    keys = {"mutual": "mutual.short_name", "contact": "mutual.contact"}
    named = [(i, c["name"]) for i, c in enumerate(config["campaigns"] or []) if c is not None]
    if named:
        i, values["campaign"] = max(named, key=lambda found: len(found[1]))
        keys["campaign"] = f"campaigns[{i}].name"
    for overflow in overflows(mutual["languages"], values, ["contact", "campaign", "mutual"]):
        problems.add(keys[overflow.placeholder], overflow.reason())


def _refuse_sandbox(mutual: dict[str, Any] | None, problems: Problems) -> None:
    if mutual is not None and mutual["payment_provider"] == "sandbox":
        problems.add(
            "mutual.payment_provider",
            "is sandbox (the default), refused in production: no money moves "
            "(choose cinetpay or mtnmomo, or set GATEWAY_ALLOW_SANDBOX_IN_PRODUCTION)",
        )


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


def _check_service_codes(session: Session, values: dict[str, Any], problems: Problems) -> None:
    """A USSD code reaches one mutual: one already another mutual's is refused (ussd.md)."""
    others = session.execute(
        select(Mutual.code, Mutual.service_codes).where(Mutual.code != values["code"])
    )
    owners = {code: other for other, codes in others for code in codes or []}
    for i, code in enumerate(values["service_codes"]):
        if code in owners:
            reason = f"{code} is already used by mutual {owners[code]}"
            problems.add(f"mutual.service_codes[{i}]", reason)


def _resolve_campaigns(config: dict[str, Any], existing: Mutual | None, problems: Problems) -> None:
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
    _assign(mutual, {"sms_settings": config["sms"]})
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
    categories = [spec["category"] for spec in values["subsidies"]]
    subsidies = _match(
        product.subsidies, categories, lambda s: s.category, lambda c: Subsidy(category=c)
    )
    for subsidy, spec in zip(subsidies, values["subsidies"], strict=True):
        funder = funders[_slug(spec["funder"])] if spec["funder"] else None
        _assign(subsidy, {"member_share": spec["member_share"], "funder": funder})
    names = [spec["name"] for spec in values["levies"]]
    levies = _match(product.levies, names, lambda levy: levy.name, lambda n: Levy(name=n))
    for levy, spec in zip(levies, values["levies"], strict=True):
        _assign(levy, {"basis_points": spec["percent"]})


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
        names = ("name", "opens_on", "closes_on", "for_period", "sections", "budget")
        fields = {k: values[k] for k in names}
        _assign(campaign, {**fields, "product": products[values["product"]]})
        _sync_reminders(campaign, values["reminders"])


def _sync_reminders(campaign: Campaign, configs: list[dict[str, Any]]) -> None:
    """Rules are matched by (anchor, offset_days): the same moment is the same rule (D17)."""
    moments = [(values["anchor"], values["offset_days"]) for values in configs]
    rules = _match(
        campaign.reminders,
        moments,
        lambda rule: (rule.anchor, rule.offset_days),
        lambda moment: ReminderRule(anchor=moment[0], offset_days=moment[1]),
    )
    for rule, values in zip(rules, configs, strict=True):
        template = values["template"] or default_template(values["anchor"], values["offset_days"])
        _assign(rule, {"repeat_every_days": values["repeat_every_days"], "template": template})


def _match(
    children: list[Child],
    keys: list[Key],
    key_of: Callable[[Child], Key],
    make: Callable[[Key], Child],
) -> list[Child]:
    """The child for each key, in order: kept, or made and appended when missing; children
    whose key is not listed are removed (their rows are deleted as orphans)."""
    by_key = {key_of(child): child for child in children}
    found = []
    for key in keys:
        child = by_key.pop(key, None)
        if child is None:
            child = make(key)
            children.append(child)
        found.append(child)
    for gone in by_key.values():
        children.remove(gone)
    return found


def _slug(name: str) -> str:
    """A funder's code from its name: `Ministère de l'Action sociale` -> `ministere-de-l-...`."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:64] or "funder"


def _assign(obj: object, values: dict[str, Any]) -> None:
    """Set only what differs, so that a reload leaves every row untouched."""
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
