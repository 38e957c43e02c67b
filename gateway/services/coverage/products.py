"""A product's configuration, cached per process (issue 19): every coverage screen of a hop
reads it, and it changes only when an operator loads a mutual's file.

The cache is cleared in this process by any flush that adds or changes a product, a subsidy,
a levy or a funder (gateway.services.mutuals.config loads them so), and an entry lives
`TTL_S` seconds at most, the bound on how long another process (a web worker, when the
command loaded the file) shows the old configuration. The cached product is detached from
its session: its columns and its subsidies, funders and levies are loaded; nothing else may
be read from it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import event, select
from sqlalchemy.orm import Session, joinedload

from gateway.models import Funder, Levy, Product, Subsidy

TTL_S = 10.0
_CACHE: dict[int, tuple[float, Product]] = {}
_LOCK = threading.Lock()
_CONFIG = (Product, Subsidy, Levy, Funder)


def load_product(session: Session, product_id: int) -> Product:
    """The product with its subsidies (and their funders) and levies: one round trip."""
    return (
        session.scalars(
            select(Product)
            .where(Product.id == product_id)
            .options(
                joinedload(Product.subsidies).joinedload(Subsidy.funder),
                joinedload(Product.levies),
            )
        )
        .unique()
        .one()
    )


def product_config(session: Session, product_id: int) -> Product:
    """The cached product (see the module's docstring); loaded on a miss or once stale."""
    now = time.monotonic()
    found = _CACHE.get(product_id)
    if found is not None and found[0] > now:
        return found[1]
    # Through a session of its own on the same connection, closed at once: the cached copy
    # belongs to no session, so no rollback or expiry of the caller's can reach it.
    own = Session(bind=session.connection(), autoflush=False)
    try:
        product = load_product(own, product_id)
    finally:
        own.close()
    with _LOCK:
        _CACHE[product_id] = (now + TTL_S, product)
    return product


def clear() -> None:
    """Forget every cached product (a configuration changed, or a test starts)."""
    with _LOCK:
        _CACHE.clear()


def _on_flush(session: Session, _context: object, _instances: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, _CONFIG) for obj in changed):
        session.info["coverage_config_changed"] = True
        clear()


def _on_commit(session: Session) -> None:
    """Again after the commit: a hop may have cached the old rows in between."""
    if session.info.pop("coverage_config_changed", False):
        clear()


event.listen(Session, "before_flush", _on_flush)
event.listen(Session, "after_commit", _on_commit)
