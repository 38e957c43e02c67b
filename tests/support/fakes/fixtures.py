"""Fixtures starting the provider fakes on 127.0.0.1 with a free port, one per test.

- `cinetpay_fake` / `mtnmomo_fake`: the fakes (cinetpay_fake.py, mtnmomo_fake.py beside this)
- `callback_sink`: a server standing for the gateway's callback endpoint
- `cinetpay` / `mtnmomo`: adapters pointed at the fakes with short timeouts; `fake_settings`
  the Settings that `payment_provider(name, settings)` needs to build the same adapters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.providers.payments.cinetpay import CinetPay
from gateway.providers.payments.mtnmomo import MtnMomo, clear_token_cache
from gateway.settings import Settings
from tests.support.fakes.cinetpay_fake import CinetPayFake
from tests.support.fakes.mtnmomo_fake import MtnMomoFake
from tests.support.fakes.server import CallbackSink

# Short read timeouts so that scripted delays provoke them quickly, yet long enough for a fake
# on a loaded 2-core machine to answer an ordinary request (0.5 s was not, under CI load).
FAKE_TIMEOUT_S = (1.0, 1.5)


@pytest.fixture
def cinetpay_fake() -> Iterator[CinetPayFake]:
    with CinetPayFake() as fake:
        assert isinstance(fake, CinetPayFake)
        yield fake


@pytest.fixture
def mtnmomo_fake() -> Iterator[MtnMomoFake]:
    clear_token_cache()
    with MtnMomoFake() as fake:
        assert isinstance(fake, MtnMomoFake)
        yield fake
    clear_token_cache()


@pytest.fixture
def callback_sink() -> Iterator[CallbackSink]:
    with CallbackSink() as sink:
        assert isinstance(sink, CallbackSink)
        yield sink


@pytest.fixture
def fake_settings(cinetpay_fake: CinetPayFake, mtnmomo_fake: MtnMomoFake) -> Settings:
    return Settings(
        env="test",
        cinetpay_api_key=cinetpay_fake.api_key,
        cinetpay_secret_key=cinetpay_fake.secret_key,
        cinetpay_base_url=cinetpay_fake.url,
        mtnmomo_subscription_key=mtnmomo_fake.subscription_key,
        mtnmomo_api_user=mtnmomo_fake.api_user,
        mtnmomo_api_key=mtnmomo_fake.api_key,
        mtnmomo_target_environment=mtnmomo_fake.target_environment,
        mtnmomo_base_url=mtnmomo_fake.url,
    )


@pytest.fixture
def cinetpay(cinetpay_fake: CinetPayFake) -> CinetPay:
    return CinetPay(
        cinetpay_fake.api_key, cinetpay_fake.secret_key, cinetpay_fake.url, timeout=FAKE_TIMEOUT_S
    )


@pytest.fixture
def mtnmomo(mtnmomo_fake: MtnMomoFake) -> MtnMomo:
    return MtnMomo(
        mtnmomo_fake.subscription_key,
        mtnmomo_fake.api_user,
        mtnmomo_fake.api_key,
        mtnmomo_fake.target_environment,
        mtnmomo_fake.url,
        timeout=FAKE_TIMEOUT_S,
    )
