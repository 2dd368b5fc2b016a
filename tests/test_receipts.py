"""Delivery and read receipts in the three recipient states, plus the receipt events."""

from __future__ import annotations

from tests.helpers.constants import ISO_MS
from tests.helpers.rest import list_chats, messages, messages_page
from tests.helpers.waiting import wait_until


async def _ticks(api, sender, chat_id) -> dict[str, tuple[bool, bool]]:
    """What the sender's app shows for each of its messages: (delivered, read)."""
    return {m["content"]: (m["isDelivered"], m["isRead"])
            for m in await messages(api, sender, chat_id) if m["isMyMsg"]}


async def test_recipient_viewing_the_chat_gets_it_delivered_and_read(api, pair):
    ann, a, b = pair.ann, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen", match=lambda e: e["chatId"] == chat_id)  # join read "hello"

    sent = await a.send("while you look", chat_id=chat_id)
    seen = await a.next("messages-seen")
    assert seen["chatId"] == chat_id
    assert ISO_MS.match(seen["seenTime"]), seen
    ev = await b.next("message")
    assert ev["_id"] == sent["_id"]
    assert (await _ticks(api, ann, chat_id))["while you look"] == (True, True)


async def test_recipient_online_not_viewing_gets_it_delivered_not_read(api, pair):
    ann, a = pair.ann, pair.ann_socket
    chat_id = await pair.start_chat("hello")
    a.drain("message-delivered")

    sent = await a.send("are you there", chat_id=chat_id)
    d = await a.next("message-delivered", match=lambda e: e["messageId"] == sent["_id"])
    assert d["chatId"] == chat_id
    assert ISO_MS.match(d["messageTime"]), d
    await a.no_event("messages-seen")
    assert (await _ticks(api, ann, chat_id))["are you there"] == (True, False)


async def test_first_message_to_an_online_recipient_is_delivered(pair):
    bob, a = pair.bob, pair.ann_socket
    sent = await a.send("hi", other_user_id=bob.id)
    d = await a.next("message-delivered")
    assert d["messageId"] == sent["_id"] and d["chatId"] == sent["chat"]


async def test_offline_recipient_then_one_delivered_event_per_chat_on_connect(api, make_user, sockets):
    ann = await make_user("Ann")
    cat = await make_user("Cat")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    c = await sockets.connect(cat)
    a_msgs = [await a.send(f"a{i}", other_user_id=bob.id) for i in range(3)]
    c_msgs = [await c.send(f"c{i}", other_user_id=bob.id) for i in range(2)]
    await a.no_event("message-delivered")
    await c.no_event("message-delivered", within=0)
    assert set((await _ticks(api, ann, a_msgs[0]["chat"])).values()) == {(False, False)}

    await sockets.connect(bob)
    da = await a.next("message-delivered")
    assert da == {"chatId": a_msgs[0]["chat"], "messageId": a_msgs[-1]["_id"],
                  "messageTime": a_msgs[-1]["createdAt"]} or (
        da["chatId"] == a_msgs[0]["chat"] and da["messageId"] == a_msgs[-1]["_id"])
    dc = await c.next("message-delivered")
    assert dc["chatId"] == c_msgs[0]["chat"] and dc["messageId"] == c_msgs[-1]["_id"]
    # one per chat, not one per message
    await a.no_event("message-delivered")
    await c.no_event("message-delivered", within=0)
    assert set((await _ticks(api, ann, a_msgs[0]["chat"])).values()) == {(True, False)}
    assert set((await _ticks(api, cat, c_msgs[0]["chat"])).values()) == {(True, False)}


async def test_offline_recipient_connecting_with_nothing_pending_sends_no_receipts(sockets, pair):
    bob, a, b = pair.bob, pair.ann_socket, pair.bob_socket
    await pair.start_chat("hello")
    a.drain("message-delivered")
    await b.close()
    await sockets.connect(bob)
    await a.no_event("message-delivered")


async def test_join_chat_marks_read_and_tells_the_sender(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat("hello")
    await a.send("m2", chat_id=chat_id)
    await a.no_event("messages-seen")
    entry = (await list_chats(api, bob))["data"][0]
    assert entry["unreadMessagesCount"] == 2

    await b.emit("join-chat", {"chatId": chat_id})
    seen = await a.next("messages-seen")
    assert seen["chatId"] == chat_id and ISO_MS.match(seen["seenTime"])
    assert set((await _ticks(api, ann, chat_id)).values()) == {(True, True)}
    assert (await list_chats(api, bob))["data"][0]["unreadMessagesCount"] == 0


async def test_leave_chat_stops_the_automatic_read(api, pair):
    ann, a, b = pair.ann, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen")
    await b.emit("leave-chat", {"chatId": chat_id})
    # leave-chat is handled in order before this message (events of one socket are ordered)
    await b.send("ping", chat_id=chat_id)
    await a.next("message", match=lambda m: m["content"] == "ping")
    sent = await a.send("after leave", chat_id=chat_id)
    await a.next("message-delivered", match=lambda e: e["messageId"] == sent["_id"])
    await a.no_event("messages-seen")
    assert (await _ticks(api, ann, chat_id))["after leave"] == (True, False)


async def test_closing_the_last_socket_leaves_viewed_chats(api, pair):
    ann, a, b = pair.ann, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen")
    await b.close()
    await a.send("after you left", chat_id=chat_id)
    await a.no_event("messages-seen")
    assert (await _ticks(api, ann, chat_id))["after you left"] == (False, False)


async def test_viewing_in_one_tab_reads_even_if_another_tab_is_not_viewing(api, sockets, pair):
    ann, bob, a, b1 = pair
    await sockets.connect(bob)
    chat_id = await pair.start_chat("hello")
    await b1.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen")
    await a.send("seen by tab one", chat_id=chat_id)
    await a.next("messages-seen")
    assert (await _ticks(api, ann, chat_id))["seen by tab one"] == (True, True)


async def test_message_delivered_from_recipient_is_accepted_and_sender_knows(api, pair):
    # An online recipient's messages are already delivered when they arrive, so the
    # client's own ``message-delivered`` confirms what the sender already knows: it is
    # accepted without error and the sender holds a receipt for that message.
    ann, a, b = pair.ann, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    sent = await a.send("ack me", chat_id=chat_id)
    await b.next("message")
    ack = await b.emit_ack("message-delivered", {"messageId": sent["_id"]})
    assert not (isinstance(ack, dict) and ack.get("success") is False), ack
    d = await a.next("message-delivered", match=lambda e: e["messageId"] == sent["_id"])
    assert d["chatId"] == chat_id and ISO_MS.match(d["messageTime"])
    await b.no_event("error")
    assert (await _ticks(api, ann, chat_id))["ack me"][0] is True


async def test_message_delivered_while_viewing_also_reads(api, pair):
    ann, a, b = pair.ann, pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    sent = await a.send("x", chat_id=chat_id)
    await b.next("message")
    await b.emit("join-chat", {"chatId": chat_id})
    await a.next("messages-seen")
    await b.emit("message-delivered", {"messageId": sent["_id"]})
    await b.no_event("error")
    assert (await _ticks(api, ann, chat_id))["x"] == (True, True)


async def test_message_delivered_for_my_own_message_changes_nothing(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    cat = await make_user("Cat")
    a = await sockets.connect(ann)
    c = await sockets.connect(cat)
    sent = await a.send("offline bob", other_user_id=bob.id)
    await a.emit("message-delivered", {"messageId": sent["_id"]})  # my own message
    await c.emit("message-delivered", {"messageId": sent["_id"]})  # not my chat
    await c.next("error")
    await a.no_event("message-delivered")
    assert (await _ticks(api, ann, sent["chat"]))["offline bob"] == (False, False)


async def test_listing_marks_delivered_and_tells_the_sender(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    m1 = await a.send("one", other_user_id=bob.id)
    m2 = await a.send("two", other_user_id=bob.id)
    await a.no_event("message-delivered")
    await list_chats(api, bob)  # Bob's app lists his chats over REST, no socket
    d = await a.next("message-delivered")
    assert d["chatId"] == m1["chat"] and d["messageId"] == m2["_id"]
    assert set((await _ticks(api, ann, m1["chat"])).values()) == {(True, False)}


async def test_messages_page_marks_read_and_tells_the_sender(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann)
    m1 = await a.send("one", other_user_id=bob.id)
    await a.send("two", other_user_id=bob.id)
    await messages_page(api, bob, m1["chat"])
    seen = await a.next("messages-seen")
    assert seen["chatId"] == m1["chat"] and ISO_MS.match(seen["seenTime"])

    async def all_read():
        return set((await _ticks(api, ann, m1["chat"])).values()) == {(True, True)}
    await wait_until(all_read, what="messages read after Bob opened the chat")
