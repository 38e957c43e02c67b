"""Every session a menus test stores is checked against the journeys' memory TypedDicts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gateway.menus.engine.store import HopStore, SessionState
from tests.support.memory_types import memory_problems


@pytest.fixture(autouse=True)
def _stored_memory_matches_its_types(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The JSON written to Redis, frame and origin, as gateway.menus.journeys.memory declares it."""
    found: list[str] = []
    save = HopStore.save

    def checked_save(hop: HopStore, state: SessionState) -> None:
        record = json.loads(state.to_json())
        for part in ("frame", "origin"):
            data = record[part]["data"]
            if data:  # the store's own tests save frames with no memory at all
                found.extend(f"{part}: {p}" for p in memory_problems(data))
        save(hop, state)

    monkeypatch.setattr(HopStore, "save", checked_save)
    yield
    assert not found, "\n".join(found)
