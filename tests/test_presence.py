"""Presence: who is online, as ``OnlineUsers`` events and ``is_online`` over REST, with several tabs.

By default a user sees the presence of their contacts (everyone they share a chat
with) and no one else's; ``CHATKIT_PRESENCE=all`` brings back the original's global list.

The tests drive ``chatkit.client``, except one wire-contract test on raw sockets:
``test_online_users_lists_ids_of_connected_contacts`` pins the payload of
``online-users`` (a JSON list of 24-character id strings), which ``OnlineUsers``
turns into a set.
"""

from __future__ import annotations

import asyncio

import pytest

from chatkit.client import MessageReceived, OnlineUsers
from tests.helpers.clients import People, Person, open_chat
from tests.helpers.waiting import wait_until

ALL = pytest.mark.parametrize("settings", [{"presence": "all"}], indirect=True)


async def _is_online(viewer: Person, user_id: str) -> bool | None:
    """Whether the user directory shows ``user_id`` online to ``viewer`` (None: not listed)."""
    for user in await viewer.client.users(limit=100):
        if user.id == user_id:
            return user.is_online
    return None


async def _hang_up_and_seen_offline(person: Person, *, by: Person) -> None:
    """``person``'s connection closes; ``by`` gets an ``OnlineUsers`` without them, and the
    directory shows them offline."""
    by.events.drain(OnlineUsers)
    await person.client.disconnect()
    await by.events.next(OnlineUsers, lambda e: person.id not in e.user_ids)
    assert await _is_online(by, person.id) is False


async def _offline(people: People, *names: str) -> list[Person]:
    """Users registered (and logged in over REST) without a live connection yet."""
    return [await people.register(name, "Lee", online=False) for name in names]


# --- wire contract (raw sockets) -------------------------------------------------------------


async def test_online_users_lists_ids_of_connected_contacts(pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    await pair.start_chat()
    ids = await a.next("online-users", match=lambda ids: bob.id in ids)
    assert isinstance(ids, list) and all(isinstance(i, str) and len(i) == 24 for i in ids)
    assert sorted(ids) == sorted([ann.id, bob.id])


# --- behaviour (chatkit.client) -----------------------------------------------------------------


async def test_newcomer_learns_which_contacts_are_already_online(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray", online=False)
    await ann.client.send("hi", to=bob.id)  # a chat makes them contacts
    await bob.client.connect()
    await bob.events.next(OnlineUsers, lambda e: e.user_ids == {ann.id, bob.id})
    assert bob.client.online == {ann.id, bob.id}


async def test_a_first_message_makes_both_sides_see_each_other(people: People) -> None:
    ann, bob = await people.two()
    # strangers so far: each sees only themselves
    assert (await ann.events.next(OnlineUsers)).user_ids == {ann.id}
    assert (await bob.events.next(OnlineUsers)).user_ids == {bob.id}
    await open_chat(ann, bob)
    for person in (ann, bob):
        await person.events.next(OnlineUsers, lambda e: e.user_ids == {ann.id, bob.id})


async def test_strangers_never_see_each_others_presence(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob, cat = await _offline(people, "Bob", "Cat")
    await ann.client.send("hi", to=bob.id)
    await cat.client.connect()
    await bob.client.connect()
    await ann.events.next(OnlineUsers, lambda e: bob.id in e.user_ids)
    ann.events.drain(OnlineUsers)
    await bob.client.disconnect()
    await ann.events.next(OnlineUsers, lambda e: bob.id not in e.user_ids)
    # Cat shares no chat with anyone: only ever herself, never an update about others
    seen_by_cat = cat.events.all(OnlineUsers)
    assert all(e.user_ids == {cat.id} for e in seen_by_cat), seen_by_cat
    await cat.events.no_event(OnlineUsers, lambda e: e.user_ids != {cat.id})
    # ...and the user directory shows her strangers offline, her contacts as they are
    await bob.client.connect()
    assert await _is_online(cat, bob.id) is False
    assert await wait_until(lambda: _is_online(ann, bob.id), what="Bob online for Ann") is True


async def test_user_goes_offline_when_the_socket_closes(people: People) -> None:
    ann, bob = await people.two()
    await open_chat(ann, bob)
    await ann.events.next(OnlineUsers, lambda e: bob.id in e.user_ids)
    assert await _is_online(ann, bob.id) is True
    await _hang_up_and_seen_offline(bob, by=ann)


async def test_two_tabs_stay_online_until_both_close(people: People) -> None:
    ann, bob = await people.two()
    await open_chat(ann, bob)
    tab2 = await people.tab(bob)
    await ann.events.next(OnlineUsers, lambda e: bob.id in e.user_ids)
    ann.events.drain(OnlineUsers)

    await bob.client.disconnect()
    await ann.events.no_event(OnlineUsers, lambda e: bob.id not in e.user_ids, within=0.7)
    assert await _is_online(ann, bob.id) is True

    # the remaining tab still receives messages
    await ann.client.send("still there?", to=bob.id)
    await tab2.events.next(MessageReceived, lambda e: e.message.content == "still there?")

    await _hang_up_and_seen_offline(tab2, by=ann)


async def test_is_online_in_chat_listing(people: People) -> None:
    ann, bob = await people.two()
    await ann.client.send("hi", to=bob.id)

    async def bob_online_in_listing(expected: bool) -> bool:
        return (await ann.client.chats()).items[0].to.is_online is expected

    await wait_until(lambda: bob_online_in_listing(True), what="Bob online in Ann's listing")
    await bob.client.disconnect()
    await wait_until(lambda: bob_online_in_listing(False), what="Bob offline in Ann's listing")


async def test_connect_burst_does_not_flood_online_users(people: People) -> None:
    # Coalescing: 6 contacts connecting at once must not send each one an event per
    # connect (N^2 in the original). Counted generously: at most N events per user.
    users = [await people.register("U0", "Lee"), *await _offline(people, *(f"U{i}" for i in range(1, 6)))]
    for u in users[1:]:
        await users[0].client.send("hello", to=u.id)
    await users[0].client.disconnect()
    before = {u.id: len(u.events.all(OnlineUsers)) for u in users}
    await asyncio.gather(*(u.client.connect() for u in users))
    ids = {u.id for u in users}
    await users[0].events.next(OnlineUsers, lambda e: ids <= e.user_ids)
    for u in users[1:]:  # the others share a chat with U0 only
        await u.events.next(OnlineUsers, lambda e, u=u: e.user_ids == {u.id, users[0].id})
    await asyncio.sleep(0.5)
    for u in users:
        assert len(u.events.all(OnlineUsers)) - before[u.id] <= len(users)


@ALL
async def test_presence_all_gives_everyone_the_global_list(people: People) -> None:
    ann = await people.register("Ann", "Lee")
    bob = await people.register("Bob", "Ray")  # strangers, yet each sees the other
    for person in (ann, bob):
        await person.events.next(OnlineUsers, lambda e: e.user_ids == {ann.id, bob.id})
    assert await _is_online(ann, bob.id) is True
    ann.events.drain(OnlineUsers)
    await bob.client.disconnect()
    await ann.events.next(OnlineUsers, lambda e: e.user_ids == {ann.id})
    assert await _is_online(ann, bob.id) is False


@ALL
async def test_presence_all_coalesces_a_burst(people: People) -> None:
    users = await _offline(people, *(f"U{i}" for i in range(6)))
    await asyncio.gather(*(u.client.connect() for u in users))
    ids = {u.id for u in users}
    for u in users:
        await u.events.next(OnlineUsers, lambda e: ids <= e.user_ids)
    await asyncio.sleep(0.5)
    for u in users:
        assert len(u.events.all(OnlineUsers)) <= len(users)
