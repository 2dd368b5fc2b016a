"""Presence: online-users over Socket.IO and isOnline over REST, with several tabs.

By default a user sees the presence of their contacts (everyone they share a chat
with) and no one else's; ``CHATKIT_PRESENCE=all`` brings back the original's global list.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers.rest import get_ok
from tests.helpers.waiting import wait_until

ALL = pytest.mark.parametrize("settings", [{"presence": "all"}], indirect=True)


async def _is_online(api, viewer, user_id: str) -> bool | None:
    body = await get_ok(api, "/api/v1/chats/users", viewer, limit=100)
    for u in body["data"]:
        if u["_id"] == user_id:
            return u["isOnline"]
    return None


async def test_online_users_lists_ids_of_connected_contacts(pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    await pair.start_chat()
    ids = await a.next("online-users", match=lambda ids: bob.id in ids)
    assert isinstance(ids, list) and all(isinstance(i, str) and len(i) == 24 for i in ids)
    assert sorted(ids) == sorted([ann.id, bob.id])


async def test_newcomer_learns_which_contacts_are_already_online(make_user, sockets):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    a = await sockets.connect(ann)
    await a.send("hi", other_user_id=bob.id)  # a chat makes them contacts
    b = await sockets.connect(bob)
    await b.next("online-users", match=lambda ids: ann.id in ids and bob.id in ids)


async def test_a_first_message_makes_both_sides_see_each_other(pair):
    ann, bob, a, b = pair
    # strangers so far: each sees only themselves
    assert await a.next("online-users") == [ann.id]
    assert await b.next("online-users") == [bob.id]
    await pair.start_chat()
    await a.next("online-users", match=lambda ids: sorted(ids) == sorted([ann.id, bob.id]))
    await b.next("online-users", match=lambda ids: sorted(ids) == sorted([ann.id, bob.id]))


async def test_strangers_never_see_each_others_presence(api, make_user, sockets):
    ann, bob, cat = await make_user("Ann"), await make_user("Bob"), await make_user("Cat")
    a = await sockets.connect(ann)
    await a.send("hi", other_user_id=bob.id)
    c = await sockets.connect(cat)
    b = await sockets.connect(bob)
    await a.next("online-users", match=lambda ids: bob.id in ids)
    await b.close()
    await a.next("online-users", match=lambda ids: bob.id not in ids)
    # Cat shares no chat with anyone: only ever herself, never an update about others
    assert all(ids == [cat.id] for ids in c.pending("online-users")), c.pending("online-users")
    await c.no_event("online-users", match=lambda ids: ids != [cat.id])
    # ...and the user directory shows her strangers offline, her contacts as they are
    await sockets.connect(bob)
    assert await _is_online(api, cat, bob.id) is False
    assert await wait_until(lambda: _is_online(api, ann, bob.id), what="Bob online for Ann") is True


async def test_user_goes_offline_when_the_socket_closes(api, pair):
    ann, bob, a, b = pair
    await pair.start_chat()
    await a.next("online-users", match=lambda ids: bob.id in ids)
    assert await _is_online(api, ann, bob.id) is True
    await b.close()
    await a.next("online-users", match=lambda ids: bob.id not in ids)
    assert await _is_online(api, ann, bob.id) is False


async def test_two_tabs_stay_online_until_both_close(api, sockets, pair):
    ann, bob, a, tab1 = pair
    await pair.start_chat()
    tab2 = await sockets.connect(bob)
    await a.next("online-users", match=lambda ids: bob.id in ids)
    a.drain("online-users")

    await tab1.close()
    await a.no_event("online-users", within=0.7, match=lambda ids: bob.id not in ids)
    assert await _is_online(api, ann, bob.id) is True

    # the remaining tab still receives messages
    await a.send("still there?", other_user_id=bob.id)
    await tab2.next("message", match=lambda m: m["content"] == "still there?")

    await tab2.close()
    await a.next("online-users", match=lambda ids: bob.id not in ids)
    assert await _is_online(api, ann, bob.id) is False


async def test_is_online_in_chat_listing(api, pair):
    ann, bob, a, b = pair
    await a.send("hi", other_user_id=bob.id)

    async def bob_online_in_listing(expected: bool):
        body = await get_ok(api, "/api/v1/chats", ann)
        return body["data"][0]["to"]["isOnline"] is expected

    await wait_until(lambda: bob_online_in_listing(True), what="Bob online in Ann's listing")
    await b.close()
    await wait_until(lambda: bob_online_in_listing(False), what="Bob offline in Ann's listing")


async def test_connect_burst_does_not_flood_online_users(make_user, sockets):
    # Coalescing: 6 contacts connecting at once must not send each one an event per
    # connect (N^2 in the original). Counted generously: at most N events per user.
    users = [await make_user(f"U{i}") for i in range(6)]
    first = await sockets.connect(users[0])
    for u in users[1:]:
        await first.send("hello", other_user_id=u.id)
    await first.close()
    peers = await asyncio.gather(*(sockets.connect(u) for u in users))
    ids = {u.id for u in users}
    await peers[0].next("online-users", match=lambda got: ids <= set(got), timeout=5)
    for p, u in zip(peers[1:], users[1:], strict=True):  # the others share a chat with U0 only
        await p.next("online-users", match=lambda got, u=u: set(got) == {u.id, users[0].id}, timeout=5)
    await asyncio.sleep(0.5)
    for p in peers:
        assert len([e for e, _ in p.history if e == "online-users"]) <= len(users)


@ALL
async def test_presence_all_gives_everyone_the_global_list(api, make_user, sockets):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    a = await sockets.connect(ann)
    b = await sockets.connect(bob)  # strangers, yet each sees the other
    await a.next("online-users", match=lambda ids: set(ids) == {ann.id, bob.id})
    await b.next("online-users", match=lambda ids: set(ids) == {ann.id, bob.id})
    assert await _is_online(api, ann, bob.id) is True
    await b.close()
    await a.next("online-users", match=lambda ids: ids == [ann.id])
    assert await _is_online(api, ann, bob.id) is False


@ALL
async def test_presence_all_coalesces_a_burst(make_user, sockets):
    users = [await make_user(f"U{i}") for i in range(6)]
    peers = await asyncio.gather(*(sockets.connect(u) for u in users))
    ids = {u.id for u in users}
    for p in peers:
        await p.next("online-users", match=lambda got: ids <= set(got), timeout=5)
    await asyncio.sleep(0.5)
    for p in peers:
        assert len([e for e, _ in p.history if e == "online-users"]) <= len(users)
