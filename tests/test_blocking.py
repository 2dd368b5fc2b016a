"""Blocking between users (REST actions) and its effect on messages, pushes and listings.

What a user notices (labels, refusals both ways, flags, pushes) is driven through
``chatkit.client``. Wire-contract tests stay on raw sockets and httpx:

- ``test_block_errors`` and ``test_block_response_reports_flags``: status codes and the
  reply body of the action routes;
- ``test_blocked_before_any_chat_creates_no_chat``: the refusal's exact ack,
  ``{success: false, message}`` with the literal sentence apps match on;
- ``test_blocked_sender_gets_an_error_event_without_ack``: a plain emit (no ack asked)
  is answered with an ``error`` event, which the client, always asking for an ack, never does.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatkit.client import BlockState, ChatOpened, Forbidden, MessageDelivered, MessageReceived
from chatkit.protocol import Sentence
from tests.helpers.clients import People, Person, open_chat
from tests.helpers.constants import UNKNOWN_ID
from tests.helpers.failures import assert_error, assert_failed_ack
from tests.helpers.rest import block, block_ok, chats_data, contents, pushes_for


async def _contents(person: Person, chat_id: str) -> list[str]:
    """The contents of the messages ``person`` sees in the chat, oldest first."""
    return [m.content async for m in person.client.messages(chat_id)][::-1]


# --- wire contract (raw sockets and httpx) ----------------------------------------------------


async def test_block_errors(api, make_user):
    ann = await make_user("Ann")
    assert_error(await block(api, ann, ann.id), 400)
    assert_error(await block(api, ann, ann.id, "unblock"), 400)
    assert_error(await block(api, ann, UNKNOWN_ID), 404)
    assert_error(await block(api, ann, UNKNOWN_ID, "unblock"), 404)
    assert_error(await block(api, ann, "not-an-id"), 400)
    assert_error(await api.post(f"/api/v1/actions/{ann.id}/block"), 401)


async def test_block_response_reports_flags(api, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    body = await block_ok(api, ann, bob.id)
    assert body["success"] is True
    assert isinstance(body.get("message"), str)


async def test_blocked_before_any_chat_creates_no_chat(api, make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    await block_ok(api, bob, ann.id)
    a = await sockets.connect(ann)
    # The literal sentence, once: apps match on this very text.
    assert_failed_ack(await a.emit_ack("new-message", {"content": "hello", "otherUserId": bob.id}),
                      "You can't send a message to a blocked user")
    assert await chats_data(api, ann) == []
    assert await chats_data(api, bob) == []


async def test_blocked_sender_gets_an_error_event_without_ack(api, pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    chat_id = await pair.start_chat()
    await block_ok(api, bob, ann.id)  # Bob blocks Ann
    await a.emit("new-message", {"content": "plain emit", "chatId": chat_id})
    err = await a.next("error")
    assert err["message"] == Sentence.BLOCKED
    assert "plain emit" not in await contents(api, bob, chat_id)


# --- behaviour (chatkit.client) -----------------------------------------------------------------


async def test_block_stores_a_label_and_sends_it_to_both(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await ann.client.block(bob.id)
    for person in (ann, bob):
        got = (await person.events.next(MessageReceived)).message
        assert got.type == "Label" and got.content == "blocked" and got.chat_id == chat_id
    assert "blocked" in await _contents(bob, chat_id)

    await ann.client.unblock(bob.id)
    for person in (ann, bob):
        got = (await person.events.next(MessageReceived)).message
        assert got.type == "Label" and got.content == "unblocked"
    assert (await _contents(ann, chat_id))[-2:] == ["blocked", "unblocked"]


async def test_block_is_idempotent(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await ann.client.block(bob.id)
    await ann.client.block(bob.id)
    assert (await ann.client.me()).blocked_users == {bob.id}
    labels = [m.content async for m in ann.client.messages(chat_id) if m.type == "Label"]
    assert labels == ["blocked"]
    await ann.client.unblock(bob.id)
    await ann.client.unblock(bob.id)
    assert (await ann.client.me()).blocked_users == frozenset()
    labels = [m.content async for m in ann.client.messages(chat_id) if m.type == "Label"][::-1]
    assert labels == ["blocked", "unblocked"]


async def test_block_without_a_chat_writes_no_chat(people: People) -> None:
    ann, bob = await people.two()
    await ann.client.block(bob.id)
    assert len(await ann.client.chats()) == 0
    assert len(await bob.client.chats()) == 0


async def test_blocked_users_cannot_message_each_other_in_either_direction(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await ann.client.block(bob.id)  # Ann blocks Bob
    for person in (ann, bob):
        await person.events.next(MessageReceived, lambda e: e.message.content == "blocked")

    for sender, target in (
        (bob, {"chat_id": chat_id}),
        (bob, {"to": ann.id}),
        (ann, {"chat_id": chat_id}),
        (ann, {"to": bob.id}),
    ):
        with pytest.raises(Forbidden) as refused:
            await sender.client.send("let me in", **target)
        assert refused.value.message == "You can't send a message to a blocked user"
    await ann.events.no_event(MessageReceived)
    await bob.events.no_event(MessageReceived, within=0)
    await ann.events.no_event(ChatOpened, within=0)
    await bob.events.no_event(ChatOpened, within=0)
    assert await _contents(ann, chat_id) == ["hi", "blocked"]


async def test_no_push_for_a_blocked_sender(people: People, db: Any) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False, notification_token="bob-device-token")
    await ann.client.send("before block", to=bob.id)  # Bob offline: one push
    before = len(await pushes_for(db, bob.id))
    await bob.client.block(ann.id)
    with pytest.raises(Forbidden):
        await ann.client.send("after block", to=bob.id)
    await ann.events.no_event(MessageDelivered)
    after = await pushes_for(db, bob.id)
    assert len(after) == before
    assert all(p["body"] != "after block" for p in after)


async def test_listing_and_chat_carry_block_flags_for_each_side(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)

    async def flags(person: Person) -> tuple[BlockState, BlockState]:
        return (await person.client.chats()).items[0].block, (await person.client.chat(chat_id)).block

    none = BlockState(False, False, False)
    for person in (ann, bob):
        assert await flags(person) == (none, none)

    await ann.client.block(bob.id)
    assert await flags(ann) == (BlockState(True, True, False),) * 2
    assert await flags(bob) == (BlockState(True, False, True),) * 2

    await bob.client.block(ann.id)  # both block each other
    assert (await flags(ann))[0] == BlockState(True, True, True)
    await ann.client.unblock(bob.id)
    assert (await flags(ann))[0] == BlockState(True, False, True)
    with pytest.raises(Forbidden):
        await ann.client.send("still blocked", chat_id=chat_id)
    await bob.client.unblock(ann.id)
    assert (await flags(bob))[0] == none


async def test_unblock_lets_messages_flow_again(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await ann.client.block(bob.id)
    with pytest.raises(Forbidden):
        await bob.client.send("no", chat_id=chat_id)
    await ann.client.unblock(bob.id)
    sent = await bob.client.send("yes", chat_id=chat_id)
    got = await ann.events.next(MessageReceived, lambda e: e.message.content == "yes")
    assert got.message.id == sent.id
