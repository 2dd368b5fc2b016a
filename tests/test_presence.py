"""Presence: online-users over Socket.IO and isOnline over REST, with several tabs."""

from __future__ import annotations

import asyncio

from tests.helpers.rest import get_ok
from tests.helpers.waiting import wait_until


async def _is_online(api, viewer, user_id: str) -> bool | None:
    body = await get_ok(api, "/api/v1/chats/users", viewer, limit=100)
    for u in body["data"]:
        if u["_id"] == user_id:
            return u["isOnline"]
    return None


async def test_online_users_lists_ids_of_connected_users(pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    ids = await a.next("online-users", match=lambda ids: bob.id in ids)
    assert isinstance(ids, list) and all(isinstance(i, str) and len(i) == 24 for i in ids)
    assert ann.id in ids


async def test_newcomer_learns_who_is_already_online(pair):
    ann, bob, b = pair.ann, pair.bob, pair.bob_socket
    await b.next("online-users", match=lambda ids: ann.id in ids and bob.id in ids)


async def test_user_goes_offline_when_the_socket_closes(api, pair):
    ann, bob, a, b = pair
    await a.next("online-users", match=lambda ids: bob.id in ids)
    assert await _is_online(api, ann, bob.id) is True
    await b.close()
    await a.next("online-users", match=lambda ids: bob.id not in ids)
    assert await _is_online(api, ann, bob.id) is False


async def test_two_tabs_stay_online_until_both_close(api, sockets, pair):
    ann, bob, a, tab1 = pair
    tab2 = await sockets.connect(bob)
    await a.next("online-users", match=lambda ids: bob.id in ids)
    a.drain("online-users")

    await tab1.close()
    await a.no_event("online-users", within=0.7, match=lambda ids: bob.id not in ids)
    assert await _is_online(api, ann, bob.id) is True

    # the remaining tab still receives messages
    await a.send("still there?", other_user_id=bob.id)
    await tab2.next("new-chat")

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
    # Coalescing: 6 users connecting at once must not send each one an event per connect
    # (N^2 in the original). Counted generously: at most N events per user over the burst.
    users = [await make_user(f"U{i}") for i in range(6)]
    peers = await asyncio.gather(*(sockets.connect(u) for u in users))
    ids = {u.id for u in users}
    for p in peers:
        await p.next("online-users", match=lambda got: ids <= set(got), timeout=5)
    await asyncio.sleep(0.5)
    for p in peers:
        assert len([e for e, _ in p.history if e == "online-users"]) <= len(users)
