"""Delivery and read receipts in the three recipient states, as the sender's ticks show them.

Most tests drive ``chatkit.client``: the sender's ticks are ``is_delivered`` /
``is_read`` of its messages, the receipts are ``MessageDelivered`` / ``MessagesSeen``.
Two stay on raw sockets (``pair`` / ``sockets``), as wire-contract tests:

- ``test_receipt_events_have_the_contracts_shape``: the exact payloads and the wire's
  timestamp format, which the typed events parse away;
- ``test_offline_recipient_then_one_delivered_event_per_chat_on_connect``: that
  *connecting* marks messages delivered. A ``ChatClient`` lists its chats when it
  connects (its exactly-once baseline), and listing marks delivered too, so only a
  bare socket shows that the connection alone does it.
"""

from __future__ import annotations

import pytest

from chatkit.client import ErrorEvent, MessageDelivered, MessageReceived, MessagesSeen, NotFound
from chatkit.protocol import Sentence
from tests.helpers.clients import People, Person, open_chat
from tests.helpers.constants import ISO_MS
from tests.helpers.rest import messages
from tests.helpers.waiting import wait_until


async def _ticks(sender: Person, chat_id: str) -> dict[str, tuple[bool, bool]]:
    """What the sender's app shows for each of its messages: (delivered, read)."""
    return {m.content: (m.is_delivered, m.is_read)
            async for m in sender.client.messages(chat_id) if m.is_mine}


# --- wire contract (raw sockets) -------------------------------------------------------------


async def test_receipt_events_have_the_contracts_shape(pair):
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("hello")
    sent = await a.send("are you there", chat_id=chat_id)
    delivered = await a.next("message-delivered", match=lambda e: e["messageId"] == sent["_id"])
    assert delivered == {"chatId": chat_id, "messageId": sent["_id"], "messageTime": sent["createdAt"]}
    assert ISO_MS.match(delivered["messageTime"]), delivered

    await b.emit("join-chat", {"chatId": chat_id})
    seen = await a.next("messages-seen")
    assert set(seen) == {"chatId", "seenTime"} and seen["chatId"] == chat_id
    assert ISO_MS.match(seen["seenTime"]), seen


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

    def ticks(found):
        return {(m["isDelivered"], m["isRead"]) for m in found if m["isMyMsg"]}

    assert ticks(await messages(api, ann, a_msgs[0]["chat"])) == {(False, False)}

    await sockets.connect(bob)
    da = await a.next("message-delivered")
    assert da == {"chatId": a_msgs[0]["chat"], "messageId": a_msgs[-1]["_id"],
                  "messageTime": a_msgs[-1]["createdAt"]}
    dc = await c.next("message-delivered")
    assert dc["chatId"] == c_msgs[0]["chat"] and dc["messageId"] == c_msgs[-1]["_id"]
    # one per chat, not one per message
    await a.no_event("message-delivered")
    await c.no_event("message-delivered", within=0)
    assert ticks(await messages(api, ann, a_msgs[0]["chat"])) == {(True, False)}
    assert ticks(await messages(api, cat, c_msgs[0]["chat"])) == {(True, False)}


# --- behaviour (chatkit.client) --------------------------------------------------------------


async def test_recipient_viewing_the_chat_gets_it_delivered_and_read(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen, lambda e: e.chat_id == chat_id)  # join read "hello"

    sent = await ann.client.send("while you look", chat_id=chat_id)
    seen = await ann.events.next(MessagesSeen)
    assert seen.chat_id == chat_id
    got = await bob.events.next(MessageReceived)
    assert got.message.id == sent.id
    assert (await _ticks(ann, chat_id))["while you look"] == (True, True)


async def test_recipient_online_not_viewing_gets_it_delivered_not_read(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")

    sent = await ann.client.send("are you there", chat_id=chat_id)
    d = await ann.events.next(MessageDelivered, lambda e: e.message_id == sent.id)
    assert d.chat_id == chat_id and d.message_time == sent.created_at
    await ann.events.no_event(MessagesSeen)
    assert (await _ticks(ann, chat_id))["are you there"] == (True, False)


async def test_first_message_to_an_online_recipient_is_delivered(people: People) -> None:
    ann, bob = await people.two()
    sent = await ann.client.send("hi", to=bob.id)
    d = await ann.events.next(MessageDelivered)
    assert d.message_id == sent.id and d.chat_id == sent.chat_id


async def test_offline_recipient_connecting_with_nothing_pending_sends_no_receipts(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    await ann.events.next(MessageDelivered, lambda e: e.chat_id == chat_id)
    await bob.client.disconnect()
    await bob.client.connect()
    await ann.events.no_event(MessageDelivered)


async def test_join_chat_marks_read_and_tells_the_sender(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    await ann.client.send("m2", chat_id=chat_id)
    await ann.events.no_event(MessagesSeen)
    assert (await bob.client.chats()).items[0].unread_count == 2

    await bob.client.join(chat_id)
    seen = await ann.events.next(MessagesSeen)
    assert seen.chat_id == chat_id
    assert set((await _ticks(ann, chat_id)).values()) == {(True, True)}
    assert (await bob.client.chats()).items[0].unread_count == 0


async def test_leave_chat_stops_the_automatic_read(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen)
    await bob.client.leave(chat_id)
    await bob.client.send("ping", chat_id=chat_id)
    await ann.events.next(MessageReceived, lambda e: e.message.content == "ping")
    sent = await ann.client.send("after leave", chat_id=chat_id)
    await ann.events.next(MessageDelivered, lambda e: e.message_id == sent.id)
    await ann.events.no_event(MessagesSeen)
    assert (await _ticks(ann, chat_id))["after leave"] == (True, False)


async def test_closing_the_last_socket_leaves_viewed_chats(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen)
    await bob.client.disconnect()
    await ann.client.send("after you left", chat_id=chat_id)
    await ann.events.no_event(MessagesSeen)
    assert (await _ticks(ann, chat_id))["after you left"] == (False, False)


async def test_viewing_in_one_tab_reads_even_if_another_tab_is_not_viewing(people: People) -> None:
    ann, bob = await people.two()
    await people.tab(bob)
    chat_id = await open_chat(ann, bob, "hello")
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen)
    await ann.client.send("seen by tab one", chat_id=chat_id)
    await ann.events.next(MessagesSeen)
    assert (await _ticks(ann, chat_id))["seen by tab one"] == (True, True)


async def test_message_delivered_from_recipient_is_accepted_and_sender_knows(people: People) -> None:
    # An online recipient's messages are already delivered when they arrive, so the
    # client's own ``message-delivered`` confirms what the sender already knows: it is
    # accepted without error and the sender holds a receipt for that message.
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    sent = await ann.client.send("ack me", chat_id=chat_id)
    await bob.events.next(MessageReceived, lambda e: e.message.id == sent.id)
    await bob.client.mark_delivered(sent.id)  # raises if refused
    d = await ann.events.next(MessageDelivered, lambda e: e.message_id == sent.id)
    assert d.chat_id == chat_id and d.message_time == sent.created_at
    await bob.events.no_event(ErrorEvent)
    assert (await _ticks(ann, chat_id))["ack me"][0] is True


async def test_message_delivered_while_viewing_also_reads(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob, "hello")
    sent = await ann.client.send("x", chat_id=chat_id)
    await bob.events.next(MessageReceived, lambda e: e.message.id == sent.id)
    await bob.client.join(chat_id)
    await ann.events.next(MessagesSeen)
    await bob.client.mark_delivered(sent.id)
    await bob.events.no_event(ErrorEvent)
    assert (await _ticks(ann, chat_id))["x"] == (True, True)


async def test_message_delivered_for_my_own_message_changes_nothing(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False)
    cat = await people.register("Cat", "Day")
    sent = await ann.client.send("offline bob", to=bob.id)
    for who in (ann, cat):  # my own message; not my chat: the same answer
        with pytest.raises(NotFound) as refused:
            await who.client.mark_delivered(sent.id)
        assert refused.value.message == Sentence.MESSAGE_NOT_FOUND
    await cat.events.next(ErrorEvent)
    await ann.events.no_event(MessageDelivered)
    assert (await _ticks(ann, sent.chat_id))["offline bob"] == (False, False)


async def test_listing_marks_delivered_and_tells_the_sender(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False)  # Bob's app on REST, no socket
    m1 = await ann.client.send("one", to=bob.id)
    m2 = await ann.client.send("two", to=bob.id)
    await ann.events.no_event(MessageDelivered)
    await bob.client.chats()
    d = await ann.events.next(MessageDelivered)
    assert d.chat_id == m1.chat_id and d.message_id == m2.id
    assert set((await _ticks(ann, m1.chat_id)).values()) == {(True, False)}


async def test_messages_page_marks_read_and_tells_the_sender(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False)
    m1 = await ann.client.send("one", to=bob.id)
    await ann.client.send("two", to=bob.id)
    assert [m.content async for m in bob.client.messages(m1.chat_id)] == ["two", "one"]
    seen = await ann.events.next(MessagesSeen)
    assert seen.chat_id == m1.chat_id

    async def all_read() -> bool:
        return set((await _ticks(ann, m1.chat_id)).values()) == {(True, True)}
    await wait_until(all_read, what="messages read after Bob opened the chat")
