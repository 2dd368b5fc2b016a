"""Push notifications delivered through Firebase, against a local stand-in for Google.

The server runs with a service-account key whose ``token_uri`` is the stand-in and with
``CHATKIT_FCM_ENDPOINT`` pointing FCM there too, so ``firebase-admin`` fetches a real
OAuth token (a signed assertion checked with the key's public half) and makes real FCM
v1 calls over loopback HTTP. What a phone would get is what the stand-in recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from chatkit.protocol import Sentence
from chatkit.server.runner import start_server
from chatkit.settings import Settings, SettingsError
from tests.helpers.accounts import Account, register
from tests.helpers.constants import AUTH
from tests.helpers.failures import assert_failed_ack
from tests.helpers.fake_fcm import HANG, UNAVAILABLE, UNREGISTERED, FakeGoogle, unavailable
from tests.helpers.images import png
from tests.helpers.realtime import PeerPool
from tests.helpers.rest import block_ok, pushes_for
from tests.helpers.waiting import wait_until

INTERVAL = 3.0  # CHATKIT_PUSH_INTERVAL of these servers


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    fake = FakeGoogle()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
def settings(settings: Settings, google: FakeGoogle, tmp_path) -> Settings:
    """This module's servers send through Firebase, i.e. through the stand-in."""
    configured = dataclasses.replace(settings, firebase_credentials=google.service_account(tmp_path),
                                     fcm_endpoint=google.url, push_interval=INTERVAL)
    configured.validate()
    return configured


async def login(api: httpx.AsyncClient, account: Account, device_token: str) -> None:
    """Log the same user in on another device, with that device's push token."""
    r = await api.post(AUTH + "/login", json={"email": account.email, "password": account.password,
                                              "notificationToken": device_token})
    assert r.status_code == 200, r.text


async def settled(db: Any, user_id: str, count: int = 1, timeout: float = 5.0,
                  status: str | None = None) -> list[dict[str, Any]]:
    """The user's pushes once ``count`` of them are done with (sent or failed), or in ``status``."""
    def done(pushes: list[dict[str, Any]]) -> bool:
        wanted = [p for p in pushes if (p["status"] == status if status else p["status"] in ("sent", "failed"))]
        return len(wanted) >= count

    return await wait_until(lambda: pushes_for(db, user_id), until=done, timeout=timeout,
                            what=f"{count} push(es) of {user_id} {status or 'settled'}")


async def test_offline_recipient_gets_one_request_per_device(api, db, make_user, sockets, google):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray", notificationToken="bob-phone")
    await login(api, bob, "bob-tablet")
    a = await sockets.connect(ann)
    chat_id = (await a.send("are you awake?", other_user_id=bob.id))["chat"]

    requests = await google.wait_for(2)
    assert sorted(r.token for r in requests) == ["bob-phone", "bob-tablet"]
    for r in requests:
        m = r.message
        assert m["notification"] == {"title": "New message from Ann", "body": "are you awake?"}
        assert m["data"] == {"case": "chat", "info": chat_id}
        # one notification per chat on the device: newer ones replace it
        assert m["android"]["collapse_key"] == chat_id
        assert m["android"]["notification"]["tag"] == chat_id
        assert m["apns"]["headers"]["apns-collapse-id"] == chat_id
        assert not r.validate_only  # really sent, not a dry run
        assert r.authorization.removeprefix("Bearer ") in google.access_tokens
    assert google.token_requests == 1  # the OAuth token came from the key's token_uri

    [push] = await settled(db, bob.id)
    assert (push["status"], push["tokenCount"], push["delivered"], push["attempts"]) == ("sent", 2, 2, 1)
    assert push["tokens"] == []  # nothing left to send; the record keeps counts only


async def test_online_recipient_gets_none(db, make_user, sockets, google):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    cid = await make_user("Cid", notificationToken="cid-phone")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    await a.send("you are online", other_user_id=bob.id)
    await b.next("new-chat")
    await a.send("you are not", other_user_id=cid.id)  # the control: this one is pushed
    await settled(db, cid.id)
    assert [r.token for r in google.requests] == ["cid-phone"]
    assert await pushes_for(db, bob.id) == []  # decided before the ack: never queued at all


async def test_blocked_pair_gets_none(api, db, make_user, sockets, google):
    ann = await make_user("Ann", notificationToken="ann-phone")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    chat_id = (await a.send("before the block", other_user_id=bob.id))["chat"]
    await settled(db, bob.id)  # the control: pushes work between them until...
    await block_ok(api, bob, ann.id)
    assert_failed_ack(await a.emit_ack("new-message", {"content": "after", "chatId": chat_id}), Sentence.BLOCKED)
    await a.close()
    b = await sockets.connect(bob)
    assert_failed_ack(await b.emit_ack("new-message", {"content": "nor", "chatId": chat_id}), Sentence.BLOCKED)
    assert [r.token for r in google.requests] == ["bob-phone"]
    assert len(await pushes_for(db, bob.id)) == 1 and await pushes_for(db, ann.id) == []


async def test_unregistered_token_is_removed(api, db, make_user, sockets, google, admin):
    ann = await make_user("Ann")
    cid = await make_user("Cid")
    bob = await make_user("Bob", notificationToken="bob-old-phone")
    await login(api, bob, "bob-phone")
    google.answer("bob-old-phone", UNREGISTERED)
    a = await sockets.connect(ann)
    await a.send("hello", other_user_id=bob.id)
    [push] = await settled(db, bob.id)
    assert (push["status"], push["delivered"], push["removed"]) == ("sent", 1, 1)
    assert "UNREGISTERED" in push["reason"] and "bob-old-phone" not in push["reason"]

    shown = json.loads((await admin("users", "show", bob.id, "--json")).output)
    assert sorted(s["hasPushToken"] for s in shown["sessions"]) == [False, True]  # both still logged in
    c = await sockets.connect(cid)  # a new chat, so no merging with the first push
    await c.send("hi from Cid", other_user_id=bob.id)
    await settled(db, bob.id, 2)
    assert [r.token for r in google.requests].count("bob-old-phone") == 1  # never tried again
    assert [r.token for r in google.requests].count("bob-phone") == 2


async def test_unavailable_is_retried_then_succeeds(db, make_user, sockets, google):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    google.answer("bob-phone", UNAVAILABLE)
    a = await sockets.connect(ann)
    await a.send("second time lucky", other_user_id=bob.id)
    first, second = await google.wait_for(2)
    assert first.message == second.message
    [push] = await settled(db, bob.id)
    assert (push["status"], push["attempts"], push["delivered"]) == ("sent", 2, 1)
    assert push["reason"] is None  # nothing wrong in the end


async def test_retry_after_is_honoured_and_operators_see_why(db, make_user, sockets, google, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    google.answer("bob-phone", unavailable(retry_after=3600))
    a = await sockets.connect(ann)
    await a.send("later", other_user_id=bob.id)
    await google.wait_for(1)
    [push] = await wait_until(lambda: pushes_for(db, bob.id),
                              until=lambda ps: ps and ps[0]["status"] == "queued" and ps[0]["attempts"] == 1)
    assert push["dueAt"] > datetime.now(UTC) + timedelta(minutes=59)  # not before FCM said so

    result = await admin("pushes", "--user", bob.email, "--json")
    assert "bob-phone" not in result.output
    listed = json.loads(result.output)
    [entry] = listed["pushes"]
    assert (entry["status"], entry["tokenCount"], entry["delivered"], entry["attempts"]) == ("queued", 1, 0, 1)
    assert entry["reason"].startswith("UNAVAILABLE") and entry["nextAttemptAt"]
    assert len(google.requests) == 1


async def test_long_text_is_cut_on_a_character_boundary(db, make_user, sockets, google):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji, seven code points
    text = "x" * 176 + family * 10  # a plain cut at 179 code points would land inside the first one
    a = await sockets.connect(ann)
    await a.send(text, other_user_id=bob.id)
    [request] = await google.wait_for(1)
    body = request.message["notification"]["body"]
    assert body == "x" * 176 + "…"
    [push] = await settled(db, bob.id)
    assert push["body"] == body


async def test_an_image_is_the_notifications_picture(api, db, make_user, google):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    r = await api.post("/api/v1/chats", headers=ann.headers, data={"receiverId": bob.id},
                       files=[("media", ("cat.png", png(), "image/png"))])
    assert r.status_code == 201, r.text
    [request] = await google.wait_for(1)
    m = request.message
    assert m["notification"]["body"] == "image"
    image = m["notification"]["image"]
    assert m["android"]["notification"]["image"] == image
    assert m["apns"]["fcm_options"]["image"] == image and m["apns"]["payload"]["aps"]["mutable-content"] == 1
    async with httpx.AsyncClient() as phone:  # a device loads it with no header, as from a URL
        loaded = await phone.get(image)
    assert loaded.status_code == 200 and loaded.headers["content-type"] == "image/png"


async def test_a_burst_to_an_offline_user_makes_at_most_two_deliveries(db, make_user, sockets, google):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    chat_id = (await a.send("message 1", other_user_id=bob.id))["chat"]
    await asyncio.gather(*(a.send(f"message {i}", chat_id=chat_id) for i in range(2, 51)))

    def all_sent(pushes: list[dict[str, Any]]) -> bool:
        return sum(p["count"] for p in pushes) == 50 and all(p["status"] == "sent" for p in pushes)

    pushes = await wait_until(lambda: pushes_for(db, bob.id), until=all_sent, timeout=INTERVAL + 5,
                              what="50 messages pushed")
    assert 1 <= len(pushes) <= 2, [(p["count"], p["body"]) for p in pushes]
    assert len(google.requests) == len(pushes)
    assert google.requests[-1].message["notification"]["body"] == "message 50"  # the newest text
    assert {r.message["android"]["collapse_key"] for r in google.requests} == {chat_id}


@pytest.mark.parametrize("settings", [{"shutdown_timeout": 0.5}], indirect=True)
async def test_a_push_caught_by_a_shutdown_is_sent_after_the_restart(settings, google):
    url = settings.mongo_url or ""
    google.answer("bob-phone", HANG)  # FCM does not answer before the server stops
    first = await start_server(settings, url)
    running = True
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as api:
            ann = await register(api, "Ann")
            bob = await register(api, "Bob", notificationToken="bob-phone")
        pool = PeerPool(first.url)
        a = await pool.connect(ann)
        await a.send("are you there?", other_user_id=bob.id)
        await google.wait_for(1)
        await pool.close()
        await first.stop()
        running = False
    finally:
        if running:
            await first.services.storage.client.drop_database(settings.db_name)
            await first.stop()

    second = await start_server(settings, url)
    try:
        db = second.services.storage.db
        _, again = await google.wait_for(2)
        assert again.token == "bob-phone" and again.message["notification"]["body"] == "are you there?"
        [push] = await settled(db, bob.id)
        assert (push["status"], push["delivered"]) == ("sent", 1)
    finally:
        await second.services.storage.client.drop_database(settings.db_name)
        await second.stop()


async def test_an_unusable_key_stops_the_start_with_one_line(settings, tmp_path):
    key = json.loads(settings.firebase_credentials.read_text())
    broken = tmp_path / "broken.json"
    key["private_key"] = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
    broken.write_text(json.dumps(key))
    try:
        with pytest.raises(SettingsError) as caught:
            await start_server(dataclasses.replace(settings, firebase_credentials=broken), settings.mongo_url or "")
    finally:
        client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongo_url)
        await client.drop_database(settings.db_name)
        await client.close()
    assert "CHATKIT_FIREBASE_CREDENTIALS" in str(caught.value) and "\n" not in str(caught.value)

    not_json = tmp_path / "not.json"
    not_json.write_text("{nope")
    with pytest.raises(SettingsError, match=r"CHATKIT_FIREBASE_CREDENTIALS: .* is not a JSON file"):
        Settings.load(env={"CHATKIT_FIREBASE_CREDENTIALS": str(not_json)})
    with pytest.raises(SettingsError, match="cannot read it"):
        Settings.load(env={"CHATKIT_FIREBASE_CREDENTIALS": str(tmp_path / "missing.json")})
