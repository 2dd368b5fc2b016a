"""Typing indicators as the people in a chat notice them, through ``chatkit.client``.

The payload's shape (``chatId``, ``userId``, ``userName``) is read by the client's
``Typing`` / ``StoppedTyping`` parsers, which refuse an event missing any of them.
"""

from __future__ import annotations

import pytest

from chatkit.client import ErrorEvent, NotFound, StoppedTyping, Typing
from chatkit.protocol import Sentence
from tests.helpers.clients import People, open_chat


async def test_typing_and_stop_typing_reach_the_other_participant(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await ann.client.typing(chat_id)
    ev = await bob.events.next(Typing)
    assert ev.chat_id == chat_id and ev.user_id == ann.id and "Ann" in ev.user_name
    await ann.client.stop_typing(chat_id)
    stopped = await bob.events.next(StoppedTyping)
    assert stopped.chat_id == chat_id and stopped.user_id == ann.id and "Ann" in stopped.user_name
    # the typist's own tabs are not told
    await ann.events.no_event(Typing)
    await ann.events.no_event(StoppedTyping, within=0)

    await bob.client.typing(chat_id)
    ev = await ann.events.next(Typing)
    assert ev.user_id == bob.id and ev.user_name in ("Bob Ray", "Bob")


async def test_typing_reaches_every_tab_of_the_other_user_and_nobody_else(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    bob2 = await people.tab(bob)
    cat = await people.register("Cat")
    await ann.client.typing(chat_id)
    await bob.events.next(Typing)
    await bob2.events.next(Typing)
    await cat.events.no_event(Typing)


async def test_no_typing_between_blocked_users(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    await bob.client.block(ann.id)
    await ann.client.typing(chat_id)
    await bob.client.typing(chat_id)
    await ann.client.stop_typing(chat_id)
    await bob.client.stop_typing(chat_id)
    await bob.events.no_event(Typing)
    await ann.events.no_event(Typing, within=0)
    await ann.events.no_event(StoppedTyping, within=0)
    await bob.events.no_event(StoppedTyping, within=0)

    await bob.client.unblock(ann.id)
    await ann.client.typing(chat_id)
    await bob.events.next(Typing)


async def test_typing_in_someone_elses_chat_is_an_error_and_relays_nothing(people: People) -> None:
    ann, bob = await people.two()
    chat_id = await open_chat(ann, bob)
    cat = await people.register("Cat")
    with pytest.raises(NotFound) as refused:
        await cat.client.typing(chat_id)
    assert refused.value.message == Sentence.CHAT_NOT_FOUND
    await cat.events.next(ErrorEvent, lambda e: e.message == Sentence.CHAT_NOT_FOUND)
    await ann.events.no_event(Typing)
    await bob.events.no_event(Typing, within=0)
