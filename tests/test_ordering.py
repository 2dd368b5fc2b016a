"""Concurrency and ordering: one chat per pair under a race, bursts in order, idempotent retries."""

from __future__ import annotations

import asyncio

from tests.helpers.rest import chats_data, messages_page


async def test_concurrent_first_messages_from_both_sides_make_one_chat(api, sockets, pair):
    ann, bob, a, b = pair
    a2 = await sockets.connect(ann)
    b2 = await sockets.connect(bob)
    senders = [(a, bob.id), (b, ann.id), (a2, bob.id), (b2, ann.id)]
    acks = await asyncio.gather(*(
        peer.emit_ack("new-message", {"content": f"race {i}", "otherUserId": other})
        for i in range(20) for peer, other in [senders[i % 4]]
    ))
    assert all(ack["success"] is True for ack in acks), acks
    chats = {ack["message"]["chat"] for ack in acks}
    assert len(chats) == 1, chats
    [chat_id] = chats
    for acc in (ann, bob):
        data = await chats_data(api, acc)
        assert [e["_id"] for e in data] == [chat_id]
    body = await messages_page(api, ann, chat_id, limit=50)
    assert body["pagination"]["totalResults"] == 20
    # each side hears of the chat as new exactly once per tab
    for peer in (a, b, a2, b2):
        await peer.next("new-chat")
        await peer.no_event("new-chat", within=0.2)


async def test_burst_of_200_right_after_connect_arrives_complete_and_in_order(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    b = await sockets.connect(bob)
    a = await sockets.connect(ann)
    expected = [f"m{i:03d}" for i in range(200)]
    for text in expected:  # no waiting for acks in between
        await a.emit("new-message", {"content": text, "otherUserId": bob.id})

    first = await b.next("new-chat", timeout=10)
    chat_id = first["_id"]
    received = [first["messages"][0]["content"]]
    received += [m["content"] for m in await b.collect("message", 199, timeout=10)]
    assert received == expected
    await b.no_event("new-chat", within=0)

    p1 = await messages_page(api, bob, chat_id, limit=100, page=1)
    p2 = await messages_page(api, bob, chat_id, limit=100, page=2)
    assert p1["pagination"]["totalResults"] == 200
    stored = [m["content"] for m in reversed(p1["data"] + p2["data"])]
    assert stored == expected
    await a.no_event("error", within=0)


async def test_burst_from_two_tabs_keeps_each_tabs_order(make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    b = await sockets.connect(bob)
    a1 = await sockets.connect(ann)
    a2 = await sockets.connect(ann)
    chat_id = (await a1.send("start", other_user_id=bob.id))["chat"]
    await b.next("new-chat")

    async def burst(peer, tag):
        for i in range(50):
            await peer.emit("new-message", {"content": f"{tag}{i:02d}", "chatId": chat_id})

    await asyncio.gather(burst(a1, "x"), burst(a2, "y"))
    got = [m["content"] for m in await b.collect("message", 100, timeout=10)]
    assert [c for c in got if c[0] == "x"] == [f"x{i:02d}" for i in range(50)]
    assert [c for c in got if c[0] == "y"] == [f"y{i:02d}" for i in range(50)]


async def test_client_id_retry_is_stored_once(api, pair):
    ann, bob, a, b = pair
    payload = {"content": "exactly once", "otherUserId": bob.id, "clientId": "c-1"}
    first = await a.emit_ack("new-message", payload)
    second = await a.emit_ack("new-message", payload)
    assert first["success"] is True and second["success"] is True
    assert first["message"]["_id"] == second["message"]["_id"]
    assert second["message"]["content"] == "exactly once"
    await b.next("new-chat")
    await b.no_event("new-chat")
    await b.no_event("message", within=0)
    chat_id = first["message"]["chat"]
    body = await messages_page(api, ann, chat_id)
    assert body["pagination"]["totalResults"] == 1


async def test_client_id_retry_in_an_existing_chat_and_from_another_tab(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a1 = await sockets.connect(ann)
    a2 = await sockets.connect(ann)
    b = await sockets.connect(bob)
    chat_id = (await a1.send("hello", other_user_id=bob.id))["chat"]
    await b.next("new-chat")
    payload = {"content": "retry me", "chatId": chat_id, "clientId": "dup-42"}
    acks = await asyncio.gather(a1.emit_ack("new-message", payload), a2.emit_ack("new-message", payload))
    assert all(x["success"] is True for x in acks), acks
    assert acks[0]["message"]["_id"] == acks[1]["message"]["_id"]
    await b.next("message", match=lambda m: m["content"] == "retry me")
    await b.no_event("message")
    body = await messages_page(api, bob, chat_id)
    assert body["pagination"]["totalResults"] == 2


async def test_same_client_id_from_different_senders_are_different_messages(api, pair):
    ann, bob, a, b = pair
    m1 = await a.send("from ann", other_user_id=bob.id, clientId="same")
    m2 = await b.send("from bob", other_user_id=ann.id, clientId="same")
    assert m1["_id"] != m2["_id"]
    body = await messages_page(api, ann, m1["chat"])
    assert body["pagination"]["totalResults"] == 2
