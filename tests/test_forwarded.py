"""Behind a reverse proxy: the client's address comes from ``X-Forwarded-For``, but only
when the request comes from a proxy the operator trusts (``CHATKIT_TRUSTED_PROXIES``).

Seen through a per-address rule a user notices: the registration limit. With one
registration per address allowed, two clients behind the proxy each register once; a
client that sends the header itself, not through a trusted proxy, cannot pose as
someone else to get around the limit.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from chatkit.server.forwarded import client_address
from chatkit.settings import Settings, SettingsError
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error

ONE_EACH = {"rate_registrations": "1/h burst 1"}


async def _register(api: httpx.AsyncClient, forwarded_for: str) -> httpx.Response:
    body = {"firstName": "Ann", "lastName": "Lee", "email": f"ann.{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD}
    return await api.post(AUTH + "/register", json=body, headers={"X-Forwarded-For": forwarded_for})


@pytest.mark.parametrize("settings", [{**ONE_EACH, "trusted_proxies": "127.0.0.1"}], indirect=True)
async def test_clients_behind_a_trusted_proxy_are_told_apart(api: httpx.AsyncClient) -> None:
    assert (await _register(api, "203.0.113.5")).status_code == 201
    assert (await _register(api, "198.51.100.7, 203.0.113.6")).status_code == 201  # nearest hop counts
    refused = await _register(api, "203.0.113.5")
    assert_error(refused, 429)
    assert int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize("settings", [ONE_EACH], indirect=True)
async def test_the_header_from_an_untrusted_client_is_ignored(api: httpx.AsyncClient) -> None:
    assert (await _register(api, "203.0.113.5")).status_code == 201
    assert_error(await _register(api, "203.0.113.99"), 429)  # still this client's own address


def test_the_chain_is_walked_past_trusted_hops_only() -> None:
    trusted = Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_networks
    assert client_address("127.0.0.1", ["1.2.3.4, 10.0.0.2"], trusted) == "1.2.3.4"
    assert client_address("127.0.0.1", ["6.6.6.6, 1.2.3.4"], trusted) == "1.2.3.4"  # a forged first hop
    assert client_address("192.0.2.1", ["1.2.3.4"], trusted) == "192.0.2.1"  # not from a proxy
    assert client_address("127.0.0.1", [], trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", ["not an address"], trusted) == "127.0.0.1"


def test_a_bad_trusted_proxies_value_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="CHATKIT_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        Settings.load(env={"CHATKIT_TRUSTED_PROXIES": "10.0.0.1, nginx"})
