"""The edge (issue 15, point 7): the callbacks' IP allowlist reads the client address through
the configured trusted proxies only (GATEWAY_TRUSTED_PROXIES, ProxyFix), so it works behind
deploy/nginx.conf and a client cannot write its own address into X-Forwarded-For."""

from __future__ import annotations

import pytest

from gateway.settings import Settings, SettingsError
from tests.conftest import AppFactory

URL = "/ussd/africastalking"
HOP = {
    "sessionId": "EDGE1",
    "serviceCode": "*144*7#",
    "phoneNumber": "+22670999999",
    "networkCode": "61302",
    "text": "",
}
PROVIDER, OTHER, NGINX = "203.0.113.7", "198.51.100.9", "127.0.0.1"


def status(app_factory: AppFactory, peer: str, xff: str | None = None, **env: str) -> int:
    app = app_factory(GATEWAY_ALLOWED_IPS=PROVIDER, **env)
    headers = {"X-Forwarded-For": xff} if xff is not None else {}
    answer = app.test_client().post(
        URL, data=HOP, headers=headers, environ_base={"REMOTE_ADDR": peer}
    )
    return answer.status_code


def test_direct_requests_are_judged_by_their_socket_peer(make_app: AppFactory) -> None:
    assert status(make_app, PROVIDER) == 200
    assert status(make_app, OTHER) == 403


def test_through_one_trusted_proxy_the_forwarded_client_is_judged(make_app: AppFactory) -> None:
    """nginx appends the peer it saw ($proxy_add_x_forwarded_for): the last entry is believed,
    whatever the client put before it."""
    assert status(make_app, NGINX, PROVIDER, GATEWAY_TRUSTED_PROXIES="1") == 200
    assert status(make_app, NGINX, OTHER, GATEWAY_TRUSTED_PROXIES="1") == 403
    assert status(make_app, NGINX, f"{PROVIDER}, {OTHER}", GATEWAY_TRUSTED_PROXIES="1") == 403
    assert status(make_app, NGINX, GATEWAY_TRUSTED_PROXIES="1") == 403  # no header: nginx's own


def test_a_spoofed_forwarded_for_without_a_proxy_is_ignored(make_app: AppFactory) -> None:
    assert status(make_app, OTHER, PROVIDER) == 403
    assert status(make_app, PROVIDER, OTHER) == 200


@pytest.mark.parametrize("raw", ["-1", "6", "one"])
def test_trusted_proxies_is_checked(raw: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_TRUSTED_PROXIES"):
        Settings.from_env({"GATEWAY_TRUSTED_PROXIES": raw})
    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"GATEWAY_TRUSTED_PROXIES": "2"}).trusted_proxies == 2
