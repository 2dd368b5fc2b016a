"""PATCH /api/v1/chats/clear/:id: the contract's three cases, as each side then sees them."""

from __future__ import annotations

from tests.helpers.constants import UNKNOWN_ID
from tests.helpers.failures import assert_error, assert_failed_ack
from tests.helpers.rest import chat_entry, chats_data, clear, clear_ok, contents


async def _chat(pair, n: int = 2) -> str:
    """A chat of ``n`` messages m1..mn, Ann and Bob taking turns (Ann first); its id."""
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await pair.start_chat("m1")
    for i in range(2, n + 1):
        sender = b if i % 2 == 0 else a
        await sender.send(f"m{i}", chat_id=chat_id)
        await a.next("message")
        await b.next("message")
    return chat_id


async def test_first_clear_hides_history_for_me_only(api, pair):
    ann, bob = pair.ann, pair.bob
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)

    assert await chat_entry(api, ann, chat_id) is None  # nothing visible: not listed
    assert await contents(api, ann, chat_id) == []
    assert await contents(api, bob, chat_id) == ["m1", "m2"]
    entry = await chat_entry(api, bob, chat_id, noOfMessages=10)
    assert entry is not None and [m["content"] for m in entry["messages"]] == ["m2", "m1"]


async def test_next_message_after_clear_reaches_me_as_new_chat(api, pair):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)

    sent = await b.send("m3", chat_id=chat_id)
    nc = await a.next("new-chat")
    assert nc["_id"] == chat_id
    assert nc["to"]["_id"] == bob.id
    assert [m["_id"] for m in nc["messages"]] == [sent["_id"]]
    assert nc["messages"][0]["sender"]["_id"] == bob.id
    await a.no_event("message", match=lambda m: m["_id"] == sent["_id"])
    # Bob did not clear: for him it is an ordinary message
    ev = await b.next("message")
    assert ev["_id"] == sent["_id"]
    await b.no_event("new-chat", within=0)

    entry = await chat_entry(api, ann, chat_id, noOfMessages=10)
    assert [m["content"] for m in entry["messages"]] == ["m3"]
    assert entry["unreadMessagesCount"] == 1
    assert await contents(api, ann, chat_id) == ["m3"]
    assert await contents(api, bob, chat_id) == ["m1", "m2", "m3"]

    # the message after that is an ordinary message again
    await b.send("m4", chat_id=chat_id)
    await a.next("message", match=lambda m: m["content"] == "m4")


async def test_my_own_next_message_after_clear_is_a_new_chat_for_me(api, pair):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)
    await a.send("fresh start", chat_id=chat_id)
    nc = await a.next("new-chat")
    assert nc["_id"] == chat_id and nc["to"]["_id"] == bob.id
    await b.next("message", match=lambda m: m["content"] == "fresh start")


async def test_clearing_again_moves_my_cutoff(api, pair):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)
    await b.send("m3", chat_id=chat_id)
    await a.next("new-chat")
    assert await contents(api, ann, chat_id) == ["m3"]

    await clear_ok(api, ann, chat_id)
    assert await contents(api, ann, chat_id) == []
    assert await chat_entry(api, ann, chat_id) is None
    assert await contents(api, bob, chat_id) == ["m1", "m2", "m3"]

    await b.send("m4", chat_id=chat_id)
    nc = await a.next("new-chat", match=lambda e: e["messages"][0]["content"] == "m4")
    assert nc["_id"] == chat_id
    assert await contents(api, ann, chat_id) == ["m4"]


async def test_both_cleared_with_nothing_since_deletes_the_chat_for_good(api, pair):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)
    await clear_ok(api, bob, chat_id)

    for acc in (ann, bob):
        assert await chats_data(api, acc) == []
        assert_error(await api.get(f"/api/v1/chats/{chat_id}", headers=acc.headers), 404)
        assert_error(await api.get(f"/api/v1/chats/{chat_id}/messages", headers=acc.headers), 404)

    # writing again starts a brand-new chat, announced to both as new-chat
    sent = await b.send("hello again", other_user_id=ann.id)
    assert sent["chat"] != chat_id
    for peer, other in ((a, bob), (b, ann)):
        nc = await peer.next("new-chat", match=lambda e: e["_id"] == sent["chat"])
        assert nc["to"]["_id"] == other.id
        assert [m["content"] for m in nc["messages"]] == ["hello again"]
    assert await contents(api, ann, sent["chat"]) == ["hello again"]

    # the old chat id is gone for sending too
    assert_failed_ack(await a.emit_ack("new-message", {"content": "old chat", "chatId": chat_id}))


async def test_other_cleared_then_new_messages_then_i_clear(api, pair):
    ann, bob, a, b = pair
    chat_id = await _chat(pair)
    await clear_ok(api, ann, chat_id)          # Ann: clearedBy=Ann
    await b.send("m3", chat_id=chat_id)        # written after Ann's clear
    await a.next("new-chat")
    await clear_ok(api, bob, chat_id)          # m1, m2 deleted for good; clearedBy=Bob

    # Ann (no longer the clearer) sees what is left: only m3
    assert await contents(api, ann, chat_id) == ["m3"]
    entry = await chat_entry(api, ann, chat_id, noOfMessages=10)
    assert entry is not None and [m["content"] for m in entry["messages"]] == ["m3"]
    # Bob sees nothing and the chat is not in his list
    assert await contents(api, bob, chat_id) == []
    assert await chat_entry(api, bob, chat_id) is None

    # the next message reaches Bob as new-chat, Ann as message
    await a.send("m4", chat_id=chat_id)
    nc = await b.next("new-chat")
    assert nc["_id"] == chat_id and nc["to"]["_id"] == ann.id
    assert [m["content"] for m in nc["messages"]] == ["m4"]
    await a.next("message", match=lambda m: m["content"] == "m4")
    assert await contents(api, bob, chat_id) == ["m4"]
    assert await contents(api, ann, chat_id) == ["m3", "m4"]


async def test_clear_errors(api, make_user, pair):
    ann, bob = pair.ann, pair.bob
    chat_id = await _chat(pair, n=1)
    cat = await make_user("Cat")
    outsider = assert_error(await clear(api, cat, chat_id), 404)
    assert assert_error(await clear(api, ann, UNKNOWN_ID), 404) == outsider
    assert_error(await clear(api, ann, "nope"), 400)
    assert_error(await api.patch(f"/api/v1/chats/clear/{chat_id}"), 401)
    # Cat's attempt changed nothing
    assert await contents(api, ann, chat_id) == ["m1"]
    assert await contents(api, bob, chat_id) == ["m1"]


async def test_unread_count_ignores_cleared_messages(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    b = await sockets.connect(bob)
    chat_id = (await b.send("u1", other_user_id=ann.id))["chat"]
    await b.send("u2", chat_id=chat_id)
    await clear_ok(api, ann, chat_id)  # Ann clears without reading
    await b.send("u3", chat_id=chat_id)
    entry = await chat_entry(api, ann, chat_id, noOfMessages=10)
    assert entry["unreadMessagesCount"] == 1
    assert [m["content"] for m in entry["messages"]] == ["u3"]
