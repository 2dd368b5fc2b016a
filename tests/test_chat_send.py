"""Sending messages end to end over Socket.IO: new-chat, message, acks, several users and tabs."""

from __future__ import annotations

from tests.helpers.accounts import full_name
from tests.helpers.constants import ISO_MS, OID, UNKNOWN_ID
from tests.helpers.failures import assert_failed_ack
from tests.helpers.rest import contents, messages


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


async def test_three_users_each_pair_gets_its_own_chat_and_nobody_else_sees_it(api, make_user, sockets):
    ann = await make_user("Ann", "One")
    bob = await make_user("Bob", "Two")
    cat = await make_user("Cat", "Three")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)
    c = await sockets.connect(cat)

    ab = await a.send("ann to bob", other_user_id=bob.id)
    ac = await a.send("ann to cat", other_user_id=cat.id)
    cb = await c.send("cat to bob", other_user_id=bob.id)
    assert len({ab["chat"], ac["chat"], cb["chat"]}) == 3

    nb1 = await b.next("new-chat", match=lambda e: e["_id"] == ab["chat"])
    assert nb1["to"]["_id"] == ann.id and nb1["to"]["fullName"] == full_name(ann)
    nb2 = await b.next("new-chat", match=lambda e: e["_id"] == cb["chat"])
    assert nb2["to"]["_id"] == cat.id and nb2["to"]["fullName"] == full_name(cat)
    nc1 = await c.next("new-chat", match=lambda e: e["_id"] == ac["chat"])
    assert nc1["to"]["_id"] == ann.id
    nc2 = await c.next("new-chat", match=lambda e: e["_id"] == cb["chat"])
    assert nc2["to"]["_id"] == bob.id
    na1 = await a.next("new-chat", match=lambda e: e["_id"] == ab["chat"])
    assert na1["to"]["_id"] == bob.id
    na2 = await a.next("new-chat", match=lambda e: e["_id"] == ac["chat"])
    assert na2["to"]["_id"] == cat.id

    # Ann never hears of the Cat-Bob chat; Cat never hears of Ann-Bob.
    await a.no_event("new-chat", match=lambda e: e["_id"] == cb["chat"])
    await c.no_event("new-chat", within=0, match=lambda e: e["_id"] == ab["chat"])

    # a later message in Ann-Bob reaches Ann and Bob only
    await a.send("again", chat_id=ab["chat"])
    await b.next("message", match=lambda m: m["content"] == "again")
    await a.next("message", match=lambda m: m["content"] == "again")
    await c.no_event("message")

    # each sees exactly their own chats over REST
    for acc, expected in ((ann, {ab["chat"], ac["chat"]}), (bob, {ab["chat"], cb["chat"]}),
                          (cat, {ac["chat"], cb["chat"]})):
        r = await api.get("/api/v1/chats", headers=acc.headers)
        assert {e["_id"] for e in r.json()["data"]} == expected


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


async def test_message_is_stored_before_it_is_announced(api, pair):
    bob, a, b = pair.bob, pair.ann_socket, pair.bob_socket
    await a.emit("new-message", {"content": "stored first", "otherUserId": bob.id})
    ev = await b.next("new-chat")
    # the moment Bob hears of it, it is readable over REST
    assert await contents(api, bob, ev["_id"]) == ["stored first"]


async def test_content_of_4096_characters_and_unicode_are_kept_exactly(api, pair):
    bob, a, b = pair.bob, pair.ann_socket, pair.bob_socket
    long_text = ("0123456789abcdef" * 256)[:4096]
    uni = "h\u00e9llo \U0001F600 \u4f60\u597d \"quoted\" <b>not html</b> $where"
    chat_id = (await a.send(long_text, other_user_id=bob.id))["chat"]
    await a.send(uni, chat_id=chat_id)
    nc = await b.next("new-chat")
    assert nc["messages"][0]["content"] == long_text
    ev = await b.next("message")
    assert ev["content"] == uni
    assert await contents(api, bob, chat_id) == [long_text, uni]


async def test_sending_to_myself_or_an_unknown_user_is_refused(api, make_user, sockets):
    ann = await make_user("Ann")
    a = await sockets.connect(ann)
    assert_failed_ack(await a.emit_ack("new-message", {"content": "me", "otherUserId": ann.id}))
    await a.next("error")
    assert_failed_ack(await a.emit_ack("new-message", {"content": "ghost", "otherUserId": UNKNOWN_ID}))
    await a.next("error")
    r = await api.get("/api/v1/chats", headers=ann.headers)
    assert r.json()["data"] == []


async def test_sending_to_a_deactivated_user_is_refused(api, make_user, sockets, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    await admin("users", "deactivate", bob.email)
    a = await sockets.connect(ann)
    assert_failed_ack(await a.emit_ack("new-message", {"content": "hello?", "otherUserId": bob.id}))
    assert (await api.get("/api/v1/chats", headers=ann.headers)).json()["data"] == []


async def test_my_own_messages_are_marked_is_my_msg_in_rest_pages(api, pair):
    ann, bob, a, b = pair
    chat_id = (await a.send("from ann", other_user_id=bob.id))["chat"]
    await b.send("from bob", chat_id=chat_id)
    ann_view = {m["content"]: m["isMyMsg"] for m in await messages(api, ann, chat_id)}
    bob_view = {m["content"]: m["isMyMsg"] for m in await messages(api, bob, chat_id)}
    assert ann_view == {"from ann": True, "from bob": False}
    assert bob_view == {"from ann": False, "from bob": True}
