"""Push notifications for offline recipients, as recorded in the ``pushes`` outbox.

Users are ``chatkit.client`` people: a recipient registered ``online=False`` has a
device token and no live connection, as a phone with the app in the background.
"""

from __future__ import annotations

from typing import Any

import httpx
from bson import ObjectId

from chatkit.client import ChatOpened, ErrorEvent, MessagesSeen, OnlineUsers
from tests.helpers.clients import People
from tests.helpers.images import png
from tests.helpers.rest import pushes_for, wait_pushes


async def test_offline_recipient_gets_a_push_per_message(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False, notification_token="bob-phone")
    m1 = await ann.client.send("are you awake?", to=bob.id)
    await ann.client.send("hello??", chat_id=m1.chat_id)
    pushes = await wait_pushes(db, bob.id, 2)
    assert len(pushes) == 2
    for p, body in zip(pushes, ["are you awake?", "hello??"], strict=True):
        assert p["userId"] == ObjectId(bob.id)
        assert p["title"] == "New message from Ann"
        assert p["body"] == body
        assert p["data"] == {"case": "chat", "info": m1.chat_id}
    assert await pushes_for(db, ann.id) == []


async def test_a_push_is_written_in_the_recipients_language(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False, notification_token="bob-phone")
    async with httpx.AsyncClient(base_url=people.url) as api:
        chosen = await api.post("/api/v1/actions/lang", json={"lang": "ar"},
                                headers={"Authorization": bob.client.token or ""})
    assert chosen.status_code == 200, chosen.text
    m1 = await ann.client.send("مرحبا", to=bob.id)
    await ann.client.send_images([png()], chat_id=m1.chat_id)
    pushes = await wait_pushes(db, bob.id, 2)
    assert [(p["title"], p["body"]) for p in pushes] == [("رسالة جديدة من Ann", "مرحبا"),
                                                        ("رسالة جديدة من Ann", "صورة")]


async def test_online_recipient_gets_no_push(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", notification_token="bob-phone")
    await ann.client.send("you are online", to=bob.id)
    await bob.events.next(ChatOpened)
    await ann.events.no_event(ErrorEvent)  # a short window for a push that should not come
    assert await pushes_for(db, bob.id) == []


async def test_recipient_viewing_gets_no_push(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", notification_token="bob-phone")
    chat_id = (await ann.client.send("one", to=bob.id)).chat_id
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen)
    await ann.client.send("two", chat_id=chat_id)
    await ann.events.next(MessagesSeen)
    await ann.events.no_event(ErrorEvent)
    assert await pushes_for(db, bob.id) == []


async def test_push_after_recipient_went_offline(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", notification_token="bob-phone")
    chat_id = (await ann.client.send("one", to=bob.id)).chat_id
    await bob.events.next(ChatOpened)
    await ann.events.next(OnlineUsers, lambda e: bob.id in e.user_ids)
    ann.events.drain(OnlineUsers)
    await bob.client.disconnect()
    await ann.events.next(OnlineUsers, lambda e: bob.id not in e.user_ids)
    await ann.client.send("two", chat_id=chat_id)
    [p] = await wait_pushes(db, bob.id, 1)
    assert p["body"] == "two" and p["data"] == {"case": "chat", "info": chat_id}
