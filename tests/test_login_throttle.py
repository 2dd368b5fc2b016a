"""Login throttling over the wire, with clients on several loopback addresses (127.0.0.x).

Guessing is slowed (a burst, then a few tries a minute), but nobody is locked out for
long: the owner of a guessed account, and the people who share the guesser's address,
get in again after the seconds the 429 names. The bucket arithmetic itself is checked
on a fake clock in ``test_throttle.py``; here a short ``login_retry_seconds`` keeps the
waits short.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from chatkit.server.runner import RunningServer
from tests.helpers.constants import AUTH
from tests.helpers.failures import assert_error

Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def client_at(server: RunningServer) -> AsyncIterator[Client]:
    """``client_at("127.0.0.2")``: an HTTP client whose requests come from that address."""
    clients: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=server.url, timeout=10,
                                   transport=httpx.AsyncHTTPTransport(local_address=address))
        clients.append(client)
        return client

    try:
        yield make
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(AUTH + "/login", json={"email": email, "password": password})


async def refused_for(client: httpx.AsyncClient, email: str, password: str) -> int:
    """Log in expecting a 429; the seconds it says to wait (body and header agree)."""
    r = await login(client, email, password)
    message = assert_error(r, 429)
    wait = int(r.headers["Retry-After"])
    assert wait >= 1 and message.endswith(f"try again in {wait} second{'s' if wait != 1 else ''}"), message
    return wait


async def test_guesses_sent_at_once_do_not_overrun_the_burst(api, make_user):
    """Each attempt counts from the moment it is admitted, before its password is hashed."""
    ann = await make_user("Ann")
    replies = await asyncio.gather(*(login(api, ann.email, f"guess-{i:04d}") for i in range(20)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [401] * 5 + [429] * 15, statuses


@pytest.mark.parametrize("settings", [{"login_retry_seconds": 4}], indirect=True)
async def test_an_owner_locked_by_guessers_elsewhere_gets_in_within_seconds(api, make_user, client_at):
    ann = await make_user("Ann")
    # A guessing network: four addresses, five guesses each, fill the account's bucket (20).
    for i in range(2, 6):
        guesser = client_at(f"127.0.0.{i}")
        for _ in range(5):
            assert (await login(guesser, ann.email, "guess1234")).status_code == 401
    # A fresh address gets no burst of its own: the account is shared...
    await refused_for(client_at("127.0.0.6"), ann.email, "guess1234")
    # ...so Ann, from her own address, is refused too, for the seconds one slot takes
    # to drain (2 s here, 10 s by default), and gets in once she has waited that long.
    wait = await refused_for(api, ann.email, ann.password)
    assert wait <= 2
    await asyncio.sleep(wait)
    r = await login(api, ann.email, ann.password)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("settings", [{"login_retry_seconds": 8}], indirect=True)
async def test_a_neighbour_is_held_only_by_the_address_bucket(make_user, client_at):
    ann, bob, cat = await make_user("Ann"), await make_user("Bob"), await make_user("Cat")
    office, elsewhere = client_at("127.0.0.2"), client_at("127.0.0.3")
    # Someone in the office guesses Ann's password until refused...
    for _ in range(5):
        assert (await login(office, ann.email, "guess1234")).status_code == 401
    await refused_for(office, ann.email, "guess1234")
    # ...which does not stop Bob, behind the same address, from logging in.
    assert (await login(office, bob.email, bob.password)).status_code == 200
    # The guesser sprays other accounts until the office address is full (10 misses)...
    for i in range(5):
        assert (await login(office, f"someone{i}@example.com", "guess1234")).status_code == 401
    # ...then Bob waits seconds (one slot every 2 s here, 5 s by default), not minutes,
    wait = await refused_for(office, bob.email, bob.password)
    assert wait <= 2
    # while Cat, elsewhere, never noticed anything.
    assert (await login(elsewhere, cat.email, cat.password)).status_code == 200
    await asyncio.sleep(wait)
    assert (await login(office, bob.email, bob.password)).status_code == 200
