"""Sending messages end to end: new-chat, message, acks, several users and tabs.

Wire-contract tests, on raw sockets (``pair`` / ``sockets``): the first four pin
which event carries a message (``new-chat`` for a chat's first message, ``message``
after, never both: a ``ChatClient`` gives each message once whichever events carried
it, so only a bare socket would see a duplicate) and the fields of those payloads
and of the ack. The rest are what a user notices, driven through ``chatkit.client``.
"""

from __future__ import annotations

import asyncio

import pytest

from chatkit.client import BadRequest, ChatOpened, ErrorEvent, Forbidden, MessageReceived, NotFound
from chatkit.protocol import Sentence
from tests.helpers.clients import People, Person
from tests.helpers.constants import ISO_MS, OID, UNKNOWN_ID


def _check_message_shape(m: dict) -> None:
    assert OID.match(m["_id"]), m
    assert OID.match(m["chat"]), m
    assert ISO_MS.match(m["createdAt"]), m
    assert isinstance(m["isDelivered"], bool) and isinstance(m["isRead"], bool), m


async def test_first_message_raises_new_chat_on_each_side_with_the_other_participant(pair):
    ann, bob, a, b = pair

    ack = await a.emit_ack("new-message", {"content": "hi bob", "otherUserId": bob.id})
    assert ack["success"] is True, ack
    sent = ack["message"]
    _check_message_shape(sent)
    assert sent["content"] == "hi bob"
    assert sent["type"] == "text"
    chat_id = sent["chat"]

    # Bob sees a new chat *with Ann*; Ann sees a new chat *with Bob* (fix: `to` per receiver).
    nb = await b.next("new-chat")
    assert nb["_id"] == chat_id
    assert nb["to"]["_id"] == ann.id
    assert nb["to"]["fullName"] == "Ann Lee"
    assert "profilePicture" in nb["to"]
    assert nb["blocked"] is False
    assert nb["unreadMessagesCount"] == 1
    assert len(nb["messages"]) == 1
    first = nb["messages"][0]
    assert first["_id"] == sent["_id"]
    assert first["content"] == "hi bob"
    assert first["sender"]["_id"] == ann.id
    assert first["sender"]["fullName"] == "Ann Lee"

    na = await a.next("new-chat")
    assert na["_id"] == chat_id
    assert na["to"]["_id"] == bob.id
    assert na["to"]["fullName"] == "Bob Ray"
    assert na["messages"][0]["_id"] == sent["_id"]
    assert na["messages"][0]["sender"] == {"_id": ann.id, "fullName": "Ann Lee"} or (
        na["messages"][0]["sender"]["_id"] == ann.id and na["messages"][0]["sender"]["fullName"] == "Ann Lee")
    assert na["unreadMessagesCount"] == 0

    # the first message is announced as new-chat, not additionally as message
    await a.no_event("message")
    await b.no_event("message", within=0)


async def test_later_messages_are_message_events_with_receiver_and_is_my_msg(pair):
    ann, bob, a, b = pair
    chat_id = (await a.send("one", other_user_id=bob.id))["chat"]
    await a.next("new-chat")
    await b.next("new-chat")

    sent = await a.send("two", chat_id=chat_id)
    for peer, mine in ((a, True), (b, False)):
        ev = await peer.next("message")
        _check_message_shape(ev)
        assert ev["_id"] == sent["_id"]
        assert ev["chat"] == chat_id
        assert ev["content"] == "two"
        assert ev["type"] == "text"
        assert ev["receiver"]["_id"] == bob.id
        assert ev["isMyMsg"] is mine, (peer.label, ev)

    reply = await b.send("three", chat_id=chat_id)
    for peer, mine in ((a, False), (b, True)):
        ev = await peer.next("message")
        assert ev["_id"] == reply["_id"]
        assert ev["receiver"]["_id"] == ann.id
        assert ev["isMyMsg"] is mine, (peer.label, ev)


async def test_other_user_id_reuses_the_existing_chat(pair):
    ann, bob, a, b = pair
    first = await a.send("one", other_user_id=bob.id)
    await b.next("new-chat")
    second = await a.send("two", other_user_id=bob.id)
    third = await b.send("three", other_user_id=ann.id)
    assert first["chat"] == second["chat"] == third["chat"]
    ev = await b.next("message", match=lambda m: m["content"] == "two")
    assert ev["chat"] == first["chat"]
    await b.no_event("new-chat")


async def test_every_tab_of_both_users_gets_the_message(make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a1 = await sockets.connect(ann)
    a2 = await sockets.connect(ann)
    b1 = await sockets.connect(bob)
    b2 = await sockets.connect(bob)
    chat_id = (await a1.send("first", other_user_id=bob.id))["chat"]
    for peer in (a1, a2, b1, b2):
        ev = await peer.next("new-chat")
        assert ev["_id"] == chat_id
    await a1.send("second", chat_id=chat_id)
    for peer, mine in ((a1, True), (a2, True), (b1, False), (b2, False)):
        ev = await peer.next("message")
        assert ev["content"] == "second" and ev["isMyMsg"] is mine


# --- behaviour (chatkit.client) -----------------------------------------------------------------


async def _contents(person: Person, chat_id: str) -> list[str]:
    """What ``person`` sees in the chat, oldest first."""
    return [m.content async for m in person.client.messages(chat_id)][::-1]


async def _chat_ids(person: Person) -> set[str]:
    return {chat.id for chat in await person.client.chats(limit=100)}


async def test_three_users_each_pair_gets_its_own_chat_and_nobody_else_sees_it(people: People) -> None:
    ann = await people.register("Ann", "One")
    bob = await people.register("Bob", "Two")
    cat = await people.register("Cat", "Three")

    ab = (await ann.client.send("ann to bob", to=bob.id)).chat_id
    ac = (await ann.client.send("ann to cat", to=cat.id)).chat_id
    cb = (await cat.client.send("cat to bob", to=bob.id)).chat_id
    assert len({ab, ac, cb}) == 3

    for person, chat_id, other in ((bob, ab, ann), (bob, cb, cat), (cat, ac, ann), (cat, cb, bob),
                                   (ann, ab, bob), (ann, ac, cat)):
        opened = await person.events.next(ChatOpened, lambda e, chat_id=chat_id: e.chat_id == chat_id)
        assert opened.to.id == other.id and opened.to.full_name == other.user.full_name

    # Ann never hears of the Cat-Bob chat; Cat never hears of Ann-Bob.
    await ann.events.no_event(ChatOpened, lambda e: e.chat_id == cb)
    await cat.events.no_event(ChatOpened, lambda e: e.chat_id == ab, within=0)

    # a later message in Ann-Bob reaches Ann and Bob only
    await ann.client.send("again", chat_id=ab)
    await bob.events.next(MessageReceived, lambda e: e.message.content == "again")
    await ann.events.next(MessageReceived, lambda e: e.message.content == "again")
    await cat.events.no_event(MessageReceived)

    # each sees exactly their own chats over REST
    for person, expected in ((ann, {ab, ac}), (bob, {ab, cb}), (cat, {ac, cb})):
        assert await _chat_ids(person) == expected


async def test_message_is_stored_before_it_is_announced(people: People) -> None:
    ann, bob = await people.two()
    sending = asyncio.ensure_future(ann.client.send("stored first", to=bob.id))  # not waiting for the ack
    opened = await bob.events.next(ChatOpened)
    # the moment Bob hears of it, it is readable over REST
    assert await _contents(bob, opened.chat_id) == ["stored first"]
    await sending


async def test_content_of_4096_characters_and_unicode_are_kept_exactly(people: People) -> None:
    ann, bob = await people.two()
    long_text = ("0123456789abcdef" * 256)[:4096]
    uni = "h\u00e9llo \U0001F600 \u4f60\u597d \"quoted\" <b>not html</b> $where"
    chat_id = (await ann.client.send(long_text, to=bob.id)).chat_id
    await ann.client.send(uni, chat_id=chat_id)
    assert (await bob.events.next(ChatOpened)).message.content == long_text
    assert (await bob.events.next(MessageReceived)).message.content == uni
    assert await _contents(bob, chat_id) == [long_text, uni]


async def test_sending_to_myself_or_an_unknown_user_is_refused(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    with pytest.raises(BadRequest) as refused:
        await ann.client.send("me", to=ann.id)
    assert refused.value.message == Sentence.NOT_TO_YOURSELF
    await ann.events.next(ErrorEvent, lambda e: e.message == Sentence.NOT_TO_YOURSELF)
    with pytest.raises(NotFound) as refused:
        await ann.client.send("ghost", to=UNKNOWN_ID)
    await ann.events.next(ErrorEvent, lambda e: e.message == refused.value.message)
    assert len(await ann.client.chats()) == 0


async def test_sending_to_a_deactivated_user_is_refused(people: People, admin) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False)
    await admin("users", "deactivate", bob.email)
    with pytest.raises(Forbidden):
        await ann.client.send("hello?", to=bob.id)
    assert len(await ann.client.chats()) == 0


async def test_my_own_messages_are_marked_is_my_msg_in_rest_pages(people: People) -> None:
    ann, bob = await people.two()
    chat_id = (await ann.client.send("from ann", to=bob.id)).chat_id
    await bob.client.send("from bob", chat_id=chat_id)
    ann_view = {m.content: m.is_mine async for m in ann.client.messages(chat_id)}
    bob_view = {m.content: m.is_mine async for m in bob.client.messages(chat_id)}
    assert ann_view == {"from ann": True, "from bob": False}
    assert bob_view == {"from ann": False, "from bob": True}
