"""Push notifications for offline recipients, as recorded in the ``pushes`` outbox."""

from __future__ import annotations

from bson import ObjectId

from tests.helpers.rest import pushes_for, wait_pushes


async def test_offline_recipient_gets_a_push_per_message(db, make_user, sockets):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    m1 = await a.send("are you awake?", other_user_id=bob.id)
    await a.send("hello??", chat_id=m1["chat"])
    pushes = await wait_pushes(db, bob.id, 2)
    assert len(pushes) == 2
    for p, body in zip(pushes, ["are you awake?", "hello??"], strict=True):
        assert p["userId"] == ObjectId(bob.id)
        assert p["title"] == "New message from Ann"
        assert p["body"] == body
        assert p["data"] == {"case": "chat", "info": m1["chat"]}
    assert await pushes_for(db, ann.id) == []


async def test_online_recipient_gets_no_push(db, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    await a.send("you are online", other_user_id=bob.id)
    await b.next("new-chat")
    await a.no_event("error")  # a short window for a push that should not come
    assert await pushes_for(db, bob.id) == []


async def test_recipient_viewing_gets_no_push(db, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    chat_id = (await a.send("one", other_user_id=bob.id))["chat"]
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen")
    await a.send("two", chat_id=chat_id)
    await a.next("messages-seen")
    await a.no_event("error")
    assert await pushes_for(db, bob.id) == []


async def test_push_after_recipient_went_offline(db, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-phone")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    chat_id = (await a.send("one", other_user_id=bob.id))["chat"]
    await b.next("new-chat")
    await b.close()
    await a.next("online-users", match=lambda ids: bob.id not in ids)
    await a.send("two", chat_id=chat_id)
    [p] = await wait_pushes(db, bob.id, 1)
    assert p["body"] == "two" and p["data"] == {"case": "chat", "info": chat_id}
