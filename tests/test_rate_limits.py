"""Rate limits on the write paths, over the wire: the first request over a limit is refused
(429 with ``Retry-After``, or a failed ack and an ``error`` event with ``retryAfter``),
stores nothing, leaves everyone else alone, and the limit lets requests through again
once its bucket has drained. With Redis, one limit is shared by every server process.

Small limits are set per test; the defaults (far above what a person does) are met by
no other test file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatkit import redis_server
from chatkit.protocol import Sentence
from chatkit.server.runner import RunningServer, start_server
from chatkit.settings import Settings
from tests.helpers.accounts import register
from tests.helpers.constants import AUTH
from tests.helpers.failures import assert_error, is_failed_ack
from tests.helpers.images import png
from tests.helpers.realtime import Pair, Peer, PeerPool
from tests.helpers.rest import block, clear
from tests.helpers.waiting import wait_until

UPLOAD = "/api/v1/chats"
SLOW = "1/h"  # refills one an hour: within a test, a full bucket stays full


def refused(ack: Any) -> int:
    """A failed ack of the rate limit: ``{success: false, message, retryAfter}``; the seconds."""
    assert isinstance(ack, dict) and ack.get("success") is False, ack
    assert ack["message"] == Sentence.RATE_LIMITED, ack
    assert isinstance(ack["retryAfter"], int) and ack["retryAfter"] >= 1, ack
    return ack["retryAfter"]


def refused_reply(r: httpx.Response) -> int:
    """A 429 of the rate limit, ``Retry-After`` in whole seconds; the seconds."""
    assert_error(r, 429, Sentence.RATE_LIMITED)
    wait = int(r.headers["Retry-After"])
    assert wait >= 1, r.headers
    return wait


async def error_event(peer: Peer) -> dict[str, Any]:
    event: dict[str, Any] = await peer.next("error")
    assert event["message"] == Sentence.RATE_LIMITED and event["retryAfter"] >= 1, event
    return event


def message(chat_id: str, content: str) -> dict[str, str]:
    return {"chatId": chat_id, "content": content}


@pytest.mark.parametrize("settings", [{"rate_messages": f"{SLOW} burst 3"}], indirect=True)
async def test_the_first_message_over_the_limit_is_refused_and_not_stored(pair: Pair, db: Any) -> None:
    ann, bob, a, b = pair
    chat_id = await pair.start_chat("one")  # the chat's first message counts too
    for content in ("two", "three"):
        await a.send(content, chat_id=chat_id)
    assert [m["content"] for m in await b.collect("message", 2)] == ["two", "three"]

    wait = refused(await a.emit_ack("new-message", message(chat_id, "four")))
    assert wait > 60  # the bucket refills one an hour here
    await error_event(a)
    await b.no_event("message")
    assert sorted(m["content"] for m in await db.messages.find({}).to_list(None)) == ["one", "three", "two"]
    # Per user: Bob's own messages go through.
    await b.send("from bob", chat_id=chat_id)
    assert (await a.next("message", match=lambda m: m["content"] == "from bob"))["content"] == "from bob"


@pytest.mark.parametrize("settings", [{"rate_messages": "2/s burst 2"}], indirect=True)
async def test_the_limit_lets_messages_through_again_once_the_bucket_drains(pair: Pair, db: Any) -> None:
    ann, bob, a, b = pair
    chat_id = await pair.start_chat("first")
    # A burst sent at once, without waiting for acks: two fit, the rest is refused.
    acks = await asyncio.gather(*(a.emit_ack("new-message", message(chat_id, f"m{i:02d}")) for i in range(20)))
    sent = [f"m{i:02d}" for i, ack in enumerate(acks) if ack.get("success") is True]
    for ack in acks:
        if ack.get("success") is not True:
            refused(ack)
    assert len(sent) < 20
    stored = [m["content"] for m in await db.messages.find({"content": {"$ne": "first"}}).sort("_id").to_list(None)]
    assert stored == sent  # a refused message is not stored
    # Half a second later one more fits: the limit recovers by itself.
    ack = await wait_until(lambda: a.emit_ack("new-message", message(chat_id, "again")),
                           until=lambda ack: ack.get("success") is True, what="a send admitted again")
    assert ack["message"]["content"] == "again"
    await b.next("message", match=lambda m: m["content"] == "again")


@pytest.mark.parametrize("settings", [{"rate_registrations": f"{SLOW} burst 2"}], indirect=True)
async def test_registrations_over_the_limit_from_one_address_get_429(api: httpx.AsyncClient, db: Any,
                                                                     server: RunningServer) -> None:
    await register(api, "Ann")
    await register(api, "Bob")
    body = {"firstName": "Cat", "lastName": "Lee", "email": "cat@example.com", "password": "password123"}
    wait = refused_reply(await api.post(AUTH + "/register", json=body))
    assert wait > 60
    assert await db.users.count_documents({"email": "cat@example.com"}) == 0
    # Another address has a bucket of its own.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=server.url, timeout=10, transport=transport) as elsewhere:
        r = await elsewhere.post(AUTH + "/register", json=body)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("settings", [{"rate_uploads": f"{SLOW} burst 2"}], indirect=True)
async def test_uploads_over_the_limit_get_429(api: httpx.AsyncClient, pair: Pair, db: Any) -> None:
    ann, bob, a, b = pair

    async def upload() -> httpx.Response:
        files = [("media", ("a.png", png(), "image/png"))]
        return await api.post(UPLOAD, headers=ann.headers, data={"receiverId": bob.id}, files=files)

    assert (await upload()).status_code == 201
    assert (await upload()).status_code == 201
    refused_reply(await upload())
    # A profile picture is an upload too, and Ann's bucket is full.
    picture = [("profilePicture", ("me.png", png(), "image/png"))]
    refused_reply(await api.patch(AUTH + "/me", headers=ann.headers, files=picture))
    assert await db.messages.count_documents({"type": "image"}) == 2
    assert await db["media.files"].count_documents({}) == 2
    # Bob's uploads are his own.
    r = await api.post(UPLOAD, headers=bob.headers, data={"receiverId": ann.id},
                       files=[("media", ("b.png", png(seed=1), "image/png"))])
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("settings", [{"rate_typing": f"{SLOW} burst 5"}], indirect=True)
async def test_a_typing_flood_is_refused_without_affecting_anyone_else(pair: Pair, sockets: PeerPool) -> None:
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    acks = [await a.emit_ack("typing", {"chatId": chat_id}) for _ in range(30)]
    assert [ack.get("success") for ack in acks[:5]] == [True] * 5
    for ack in acks[5:]:
        refused(ack)
    assert len(await b.collect("typing", 5)) == 5
    await b.no_event("typing")
    # The limit is the socket's: Bob's typing reaches Ann, Ann's other tab types, Ann sends.
    assert (await b.emit_ack("typing", {"chatId": chat_id}))["success"] is True
    await a.next("typing")
    other_tab = await sockets.connect(ann)
    assert (await other_tab.emit_ack("stop-typing", {"chatId": chat_id}))["success"] is True
    await b.next("stop-typing")
    await a.send("still here", chat_id=chat_id)
    await b.next("message", match=lambda m: m["content"] == "still here")


@pytest.mark.parametrize("settings", [{"rate_actions": f"{SLOW} burst 2"}], indirect=True)
async def test_every_other_write_over_the_limit_is_refused(api: httpx.AsyncClient, pair: Pair, db: Any) -> None:
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    message_id = (await b.send("hello", chat_id=chat_id))["_id"]
    assert (await block(api, ann, bob.id)).status_code == 200
    assert (await block(api, ann, bob.id, "unblock")).status_code == 200
    # Ann's two are used: each kind of write is refused now, over REST...
    refused_reply(await block(api, ann, bob.id))
    refused_reply(await block(api, ann, bob.id, "unblock"))
    refused_reply(await clear(api, ann, chat_id))
    refused_reply(await api.patch(AUTH + "/change-password", headers=ann.headers,
                                  json={"currentPassword": ann.password, "newPassword": "a new password"}))
    refused_reply(await api.patch(AUTH + "/me", headers=ann.headers, json={"firstName": "Annie"}))
    # ...and none of it happened.
    me = await api.get(AUTH + "/me", headers=ann.headers)  # her token still works: the password stands
    assert me.status_code == 200 and me.json()["data"]["firstName"] == "Ann", me.text
    bobs = await api.patch(AUTH + "/me", headers=bob.headers, json={"firstName": "Robert"})
    assert bobs.status_code == 200, bobs.text  # Bob's writes are his own
    # On Socket.IO the limit is the socket's: two events, then a failed ack and an error.
    assert (await a.emit_ack("join-chat", {"chatId": chat_id}))["success"] is True
    assert (await a.emit_ack("leave-chat", {"chatId": chat_id}))["success"] is True
    for event, payload in (("join-chat", {"chatId": chat_id}), ("leave-chat", {"chatId": chat_id}),
                           ("message-delivered", {"messageId": message_id})):
        refused(await a.emit_ack(event, payload))
        await error_event(a)
    assert (await b.emit_ack("join-chat", {"chatId": chat_id}))["success"] is True  # Bob's socket is its own


# --- one limit across processes, through Redis ----------------------------------------------


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own (the Debian package; CI installs it)."""
    local = redis_server.start(tmp_path / "redis")
    try:
        yield local.url
    finally:
        local.stop()


@contextlib.asynccontextmanager
async def two_servers(settings: Settings) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    first = await start_server(settings, settings.mongo_url or "")
    try:
        second = await start_server(dataclasses.replace(settings, data_dir=settings.data_dir / "2"),
                                    settings.mongo_url or "")
        try:
            yield first, second
        finally:
            await second.stop()
    finally:
        await first.services.storage.client.drop_database(settings.db_name)
        await first.stop()


async def test_a_limit_is_shared_by_two_servers_on_one_redis(settings: Settings, redis_url: str) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url, rate_registrations=f"{SLOW} burst 3",
                                 rate_messages=f"{SLOW} burst 2")
    async with two_servers(shared) as (one, two), \
            httpx.AsyncClient(base_url=one.url, timeout=10) as api1, \
            httpx.AsyncClient(base_url=two.url, timeout=10) as api2:
        ann, bob = await register(api1, "Ann"), await register(api1, "Bob")
        await register(api2, "Cat")
        # The address has used its three on the two servers: the next one is refused on either.
        r = await api1.post(AUTH + "/register", json={"firstName": "Dan", "lastName": "Lee",
                                                      "email": "dan@example.com", "password": "password123"})
        refused_reply(r)
        pool1, pool2 = PeerPool(one.url), PeerPool(two.url)
        try:
            a1, a2 = await pool1.connect(ann), await pool2.connect(ann)
            chat_id = (await a1.send("one", other_user_id=bob.id))["chat"]
            await a1.send("two", chat_id=chat_id)
            # Ann's third message, on the other server, is her first over the limit.
            refused(await a2.emit_ack("new-message", message(chat_id, "three")))
            await error_event(a2)
            assert is_failed_ack(await a1.emit_ack("new-message", message(chat_id, "four")))
        finally:
            await pool1.close()
            await pool2.close()
        stored = await one.services.storage.db.messages.find({}).to_list(None)
        assert sorted(m["content"] for m in stored) == ["one", "two"]


async def test_failed_logins_count_on_both_servers_and_unlock_lifts_them_on_both(
        settings: Settings, redis_url: str, admin_cli: Any) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url, login_retry_seconds=3600)  # nothing drains

    async def login(api: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
        return await api.post(AUTH + "/login", json={"email": email, "password": password})

    async with two_servers(shared) as (one, two), \
            httpx.AsyncClient(base_url=one.url, timeout=10) as api1, \
            httpx.AsyncClient(base_url=two.url, timeout=10) as api2:
        ann, bob = await register(api1, "Ann"), await register(api1, "Bob")
        # Guesses sent at once, half to each server, get the burst of five between them.
        replies = await asyncio.gather(*(login((api1, api2)[i % 2], ann.email, f"guess-{i:02d}")
                                         for i in range(20)))
        assert sorted(r.status_code for r in replies) == [401] * 5 + [429] * 15
        # On either server, even the right password is refused now (it is not even checked).
        for api in (api1, api2):
            r = await login(api, ann.email, ann.password)
            message = assert_error(r, 429)
            assert message.startswith("Too many failed logins") and int(r.headers["Retry-After"]) >= 1, message
        assert (await login(api2, bob.email, bob.password)).status_code == 200  # Bob's account is his own

        result = await admin_cli("users", "unlock", ann.email, env={"CHATKIT_REDIS_URL": redis_url})
        assert result.exit_code == 0, result.output
        # Lifted for both at once: the command emptied the buckets both servers use.
        for api in (api2, api1):
            r = await login(api, ann.email, ann.password)
            assert r.status_code == 200, r.text


async def test_with_redis_gone_each_server_still_throttles_logins(settings: Settings, tmp_path: Path) -> None:
    local = redis_server.start(tmp_path / "redis")
    try:
        shared = dataclasses.replace(settings, redis_url=local.url, login_retry_seconds=3600)
        async with two_servers(shared) as (one, _), httpx.AsyncClient(base_url=one.url, timeout=10) as api:
            ann = await register(api, "Ann")
            local.stop()
            # The shared buckets cannot be reached: the server counts in its own memory.
            statuses = [(await api.post(AUTH + "/login", json={"email": ann.email, "password": "guess1234"}))
                        .status_code for _ in range(6)]
            assert statuses == [401] * 5 + [429], statuses
            r = await api.post(AUTH + "/login", json={"email": ann.email, "password": ann.password})
            assert_error(r, 429)
    finally:
        local.stop()
