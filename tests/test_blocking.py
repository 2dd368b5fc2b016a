"""Blocking between users (REST actions) and its effect on messages, pushes and listings."""

from __future__ import annotations

from chatkit.protocol import Sentence
from tests.helpers.constants import AUTH, UNKNOWN_ID
from tests.helpers.failures import assert_error, assert_failed_ack
from tests.helpers.rest import (
    block,
    block_ok,
    chats_data,
    contents,
    get_chat,
    get_ok,
    messages,
    pushes_for,
)


def _flags(entry):
    return entry["blocked"], entry["blockedByMe"], entry["blockedByOtherUser"]


async def test_block_stores_a_label_and_sends_it_to_both(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await block_ok(api, ann, bob.id)
    for peer in (a, b):
        ev = await peer.next("message")
        assert ev["type"] == "Label" and ev["content"] == "blocked" and ev["chat"] == chat_id
    assert "blocked" in await contents(api, bob, chat_id)

    await block_ok(api, ann, bob.id, "unblock")
    for peer in (a, b):
        ev = await peer.next("message")
        assert ev["type"] == "Label" and ev["content"] == "unblocked"
    assert (await contents(api, ann, chat_id))[-2:] == ["blocked", "unblocked"]


async def test_block_is_idempotent(api, pair):
    ann, bob = pair.ann, pair.bob
    chat_id = await pair.start_chat()
    await block_ok(api, ann, bob.id)
    await block_ok(api, ann, bob.id)
    me = await get_ok(api, AUTH + "/me", ann)
    assert me["data"]["blockedUsers"] == [bob.id]
    labels = [m for m in await messages(api, ann, chat_id) if m["type"] == "Label"]
    assert [m["content"] for m in labels] == ["blocked"]
    await block_ok(api, ann, bob.id, "unblock")
    await block_ok(api, ann, bob.id, "unblock")
    me = await get_ok(api, AUTH + "/me", ann)
    assert me["data"]["blockedUsers"] == []
    labels = [m["content"] for m in reversed(await messages(api, ann, chat_id)) if m["type"] == "Label"]
    assert labels == ["blocked", "unblocked"]


async def test_block_without_a_chat_writes_no_chat(api, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    await block_ok(api, ann, bob.id)
    assert await chats_data(api, ann) == []
    assert await chats_data(api, bob) == []


async def test_block_errors(api, make_user):
    ann = await make_user("Ann")
    assert_error(await block(api, ann, ann.id), 400)
    assert_error(await block(api, ann, ann.id, "unblock"), 400)
    assert_error(await block(api, ann, UNKNOWN_ID), 404)
    assert_error(await block(api, ann, UNKNOWN_ID, "unblock"), 404)
    assert_error(await block(api, ann, "not-an-id"), 400)
    assert_error(await api.post(f"/api/v1/actions/{ann.id}/block"), 401)


async def test_blocked_users_cannot_message_each_other_in_either_direction(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await block_ok(api, ann, bob.id)  # Ann blocks Bob
    a.drain()
    b.drain()

    for peer, payload in (
        (b, {"content": "let me in", "chatId": chat_id}),
        (b, {"content": "via id", "otherUserId": ann.id}),
        (a, {"content": "i blocked you", "chatId": chat_id}),
        (a, {"content": "via id too", "otherUserId": bob.id}),
    ):
        ack = await peer.emit_ack("new-message", payload)
        # The literal sentence, once: apps match on this very text.
        assert_failed_ack(ack, "You can't send a message to a blocked user")
    await a.no_event("message")
    await b.no_event("message", within=0)
    await a.no_event("new-chat", within=0)
    await b.no_event("new-chat", within=0)
    stored = await contents(api, ann, chat_id)
    assert stored == ["hi", "blocked"]


async def test_blocked_sender_gets_an_error_event_without_ack(api, pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    chat_id = await pair.start_chat()
    await block_ok(api, bob, ann.id)  # Bob blocks Ann
    await a.emit("new-message", {"content": "plain emit", "chatId": chat_id})
    err = await a.next("error")
    assert err["message"] == Sentence.BLOCKED
    assert "plain emit" not in await contents(api, bob, chat_id)


async def test_blocked_before_any_chat_creates_no_chat(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    await block_ok(api, bob, ann.id)
    a = await sockets.connect(ann)
    assert_failed_ack(await a.emit_ack("new-message", {"content": "hello", "otherUserId": bob.id}),
                      Sentence.BLOCKED)
    assert await chats_data(api, ann) == []
    assert await chats_data(api, bob) == []


async def test_no_push_for_a_blocked_sender(api, db, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob", notificationToken="bob-device-token")
    a = await sockets.connect(ann)
    await a.send("before block", other_user_id=bob.id)  # Bob offline: one push
    before = len(await pushes_for(db, bob.id))
    await block_ok(api, bob, ann.id)
    ack = await a.emit_ack("new-message", {"content": "after block", "otherUserId": bob.id})
    assert_failed_ack(ack)
    await a.no_event("message-delivered")
    after = await pushes_for(db, bob.id)
    assert len(after) == before
    assert all(p["body"] != "after block" for p in after)


async def test_listing_and_chat_carry_block_flags_for_each_side(api, pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    chat_id = await pair.start_chat()
    for acc in (ann, bob):
        entry = (await chats_data(api, acc))[0]
        assert _flags(entry) == (False, False, False)
        assert _flags(await get_chat(api, acc, chat_id)) == (False, False, False)

    await block_ok(api, ann, bob.id)
    assert _flags((await chats_data(api, ann))[0]) == (True, True, False)
    assert _flags((await chats_data(api, bob))[0]) == (True, False, True)
    assert _flags(await get_chat(api, ann, chat_id)) == (True, True, False)
    assert _flags(await get_chat(api, bob, chat_id)) == (True, False, True)

    await block_ok(api, bob, ann.id)  # both block each other
    assert _flags((await chats_data(api, ann))[0]) == (True, True, True)
    await block_ok(api, ann, bob.id, "unblock")
    assert _flags((await chats_data(api, ann))[0]) == (True, False, True)
    assert_failed_ack(await a.emit_ack("new-message", {"content": "still blocked", "chatId": chat_id}))
    await block_ok(api, bob, ann.id, "unblock")
    assert _flags((await chats_data(api, bob))[0]) == (False, False, False)


async def test_unblock_lets_messages_flow_again(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await block_ok(api, ann, bob.id)
    assert_failed_ack(await b.emit_ack("new-message", {"content": "no", "chatId": chat_id}))
    await block_ok(api, ann, bob.id, "unblock")
    sent = await b.send("yes", chat_id=chat_id)
    ev = await a.next("message", match=lambda m: m["content"] == "yes")
    assert ev["_id"] == sent["_id"]


async def test_block_response_reports_flags(api, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    body = await block_ok(api, ann, bob.id)
    assert body["success"] is True
    assert isinstance(body.get("message"), str)
