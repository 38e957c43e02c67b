"""The fault suite's shared fixtures: a worker's environment against the local MTN MoMo fake,
and the web app served where the provider calls back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support import faults
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.payments import free_port
from tests.support.worker_processes import worker_env


@pytest.fixture
def env(
    database_url: str, redis_client: redis.Redis[bytes], tmp_path: Path, mtnmomo_fake: MtnMomoFake
) -> dict[str, str]:
    return worker_env(
        database_url,
        redis_client,
        tmp_path,
        GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
        FAULT_SMS_LOG=str(tmp_path / "sms.log"),
        **faults.mtn_env(mtnmomo_fake),
    )


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[None]:
    with faults.served_gateway(env):
        yield
