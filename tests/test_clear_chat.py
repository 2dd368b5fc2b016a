"""PATCH /api/v1/chats/clear/:id: the contract's three cases, as each side then sees them.

The cases are driven through ``chatkit.client``. Two tests stay on raw sockets and httpx,
as wire-contract tests:

- ``test_next_message_after_clear_reaches_me_as_new_chat``: after a clear the next
  message comes as ``new-chat`` *instead of* ``message``, never both. A ``ChatClient``
  gives each message once whichever events carried it, so only a bare socket sees a
  duplicate; the test also pins ``sender`` as an object in ``new-chat``;
- ``test_clear_errors``: status codes of the clear route.
"""

from __future__ import annotations

import pytest

from chatkit.client import ChatOpened, MessageReceived, NotFound
from tests.helpers.clients import People, Person, open_chat
from tests.helpers.constants import UNKNOWN_ID
from tests.helpers.failures import assert_error
from tests.helpers.rest import chat_entry, clear, clear_ok, contents


async def _chat(ann: Person, bob: Person, n: int = 2) -> str:
    """A chat of ``n`` messages m1..mn, Ann and Bob taking turns (Ann first); its id."""
    chat_id = await open_chat(ann, bob, "m1")
    for i in range(2, n + 1):
        sender = bob if i % 2 == 0 else ann
        sent = await sender.client.send(f"m{i}", chat_id=chat_id)
        for person in (ann, bob):
            await person.events.next(MessageReceived, lambda e, sent=sent: e.message.id == sent.id)
    return chat_id


async def _contents(person: Person, chat_id: str) -> list[str]:
    """What ``person`` sees in the chat, oldest first."""
    return [m.content async for m in person.client.messages(chat_id)][::-1]


async def _listed(person: Person, chat_id: str) -> list[str] | None:
    """The messages of the chat's listing entry (newest first), or None when it is not listed."""
    for chat in await person.client.chats(limit=100, messages=10):
        if chat.id == chat_id:
            return [m.content for m in chat.messages]
    return None


# --- wire contract (raw sockets and httpx) ----------------------------------------------------


async def test_next_message_after_clear_reaches_me_as_new_chat(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat("m1")
    await b.send("m2", chat_id=chat_id)
    await a.next("message")
    await clear_ok(api, ann, chat_id)

    sent = await b.send("m3", chat_id=chat_id)
    nc = await a.next("new-chat")
    assert nc["_id"] == chat_id
    assert nc["to"]["_id"] == bob.id
    assert [m["_id"] for m in nc["messages"]] == [sent["_id"]]
    assert nc["messages"][0]["sender"]["_id"] == bob.id
    await a.no_event("message", match=lambda m: m["_id"] == sent["_id"])
    # Bob did not clear: for him it is an ordinary message
    ev = await b.next("message", match=lambda m: m["_id"] == sent["_id"])
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


async def test_clear_errors(api, make_user, pair):
    ann, bob = pair.ann, pair.bob
    chat_id = await pair.start_chat("m1")
    cat = await make_user("Cat")
    outsider = assert_error(await clear(api, cat, chat_id), 404)
    assert assert_error(await clear(api, ann, UNKNOWN_ID), 404) == outsider
    assert_error(await clear(api, ann, "nope"), 400)
    assert_error(await api.patch(f"/api/v1/chats/clear/{chat_id}"), 401)
    # Cat's attempt changed nothing
    assert await contents(api, ann, chat_id) == ["m1"]
    assert await contents(api, bob, chat_id) == ["m1"]


# --- behaviour (chatkit.client) -----------------------------------------------------------------


async def test_first_clear_hides_history_for_me_only(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await _chat(ann, bob)
    assert await ann.client.clear(chat_id) is False

    assert await _listed(ann, chat_id) is None  # nothing visible: not listed
    assert await _contents(ann, chat_id) == []
    assert await _contents(bob, chat_id) == ["m1", "m2"]
    assert await _listed(bob, chat_id) == ["m2", "m1"]


async def test_my_own_next_message_after_clear_is_a_new_chat_for_me(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await _chat(ann, bob)
    await ann.client.clear(chat_id)
    await ann.client.send("fresh start", chat_id=chat_id)
    nc = await ann.events.next(ChatOpened)
    assert nc.chat_id == chat_id and nc.to.id == bob.id
    await bob.events.next(MessageReceived, lambda e: e.message.content == "fresh start")


async def test_clearing_again_moves_my_cutoff(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await _chat(ann, bob)
    await ann.client.clear(chat_id)
    await bob.client.send("m3", chat_id=chat_id)
    await ann.events.next(ChatOpened)
    assert await _contents(ann, chat_id) == ["m3"]

    await ann.client.clear(chat_id)
    assert await _contents(ann, chat_id) == []
    assert await _listed(ann, chat_id) is None
    assert await _contents(bob, chat_id) == ["m1", "m2", "m3"]

    await bob.client.send("m4", chat_id=chat_id)
    nc = await ann.events.next(ChatOpened, lambda e: e.message.content == "m4")
    assert nc.chat_id == chat_id
    assert await _contents(ann, chat_id) == ["m4"]


async def test_both_cleared_with_nothing_since_deletes_the_chat_for_good(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await _chat(ann, bob)
    assert await ann.client.clear(chat_id) is False
    assert await bob.client.clear(chat_id) is True

    for person in (ann, bob):
        assert len(await person.client.chats()) == 0
        with pytest.raises(NotFound) as gone:
            await person.client.chat(chat_id)
        assert gone.value.status == 404 and gone.value.message
        with pytest.raises(NotFound) as gone:
            await anext(person.client.messages(chat_id))
        assert gone.value.status == 404 and gone.value.message

    # writing again starts a brand-new chat, announced to both as new-chat
    sent = await bob.client.send("hello again", to=ann.id)
    assert sent.chat_id != chat_id
    for person, other in ((ann, bob), (bob, ann)):
        nc = await person.events.next(ChatOpened, lambda e: e.chat_id == sent.chat_id)
        assert nc.to.id == other.id and nc.message.content == "hello again"
    assert await _contents(ann, sent.chat_id) == ["hello again"]

    # the old chat id is gone for sending too
    with pytest.raises(NotFound):
        await ann.client.send("old chat", chat_id=chat_id)


async def test_other_cleared_then_new_messages_then_i_clear(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await _chat(ann, bob)
    await ann.client.clear(chat_id)            # Ann: clearedBy=Ann
    await bob.client.send("m3", chat_id=chat_id)  # written after Ann's clear
    await ann.events.next(ChatOpened)
    await bob.client.clear(chat_id)            # m1, m2 deleted for good; clearedBy=Bob

    # Ann (no longer the clearer) sees what is left: only m3
    assert await _contents(ann, chat_id) == ["m3"]
    assert await _listed(ann, chat_id) == ["m3"]
    # Bob sees nothing and the chat is not in his list
    assert await _contents(bob, chat_id) == []
    assert await _listed(bob, chat_id) is None

    # the next message reaches Bob as new-chat, Ann as message
    await ann.client.send("m4", chat_id=chat_id)
    nc = await bob.events.next(ChatOpened)
    assert nc.chat_id == chat_id and nc.to.id == ann.id and nc.message.content == "m4"
    await ann.events.next(MessageReceived, lambda e: e.message.content == "m4")
    assert await _contents(bob, chat_id) == ["m4"]
    assert await _contents(ann, chat_id) == ["m3", "m4"]


async def test_unread_count_ignores_cleared_messages(people: People) -> None:
    ann = await people.register("Ann", "Lee", online=False)
    bob = await people.register("Bob", "Ray")
    chat_id = (await bob.client.send("u1", to=ann.id)).chat_id
    await bob.client.send("u2", chat_id=chat_id)
    await ann.client.clear(chat_id)  # Ann clears without reading
    await bob.client.send("u3", chat_id=chat_id)
    [entry] = await ann.client.chats(messages=10)
    assert entry.id == chat_id and entry.unread_count == 1
    assert [m.content for m in entry.messages] == ["u3"]
