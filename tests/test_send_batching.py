"""What group commit and the send path's cache could break, over the real wire.

Sends that arrive together are written as one batch (``domain.group_commit``) and the
chat and its users are held in memory (``domain.chat_cache``); none of that may change
what a user sees: a repeated ``clientId`` fails or replays only its own send, a block
or ban made from another process (``chatkit admin``, a second server) applies at once,
a chat opens exactly once per side, a clear racing a burst keeps the ``new-chat``
decision exact, and each sender's messages keep their order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chatkit import mongod
from chatkit.protocol import Sentence
from tests.helpers.accounts import Account
from tests.helpers.failures import assert_failed_ack
from tests.helpers.processes import Server, child_env
from tests.helpers.realtime import Peer, PeerPool
from tests.helpers.rest import clear_ok, messages
from tests.helpers.waiting import wait_until

BURST = 30


def _payload(chat_id: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"chatId": chat_id, "content": content, **extra}


async def test_a_repeated_client_id_inside_one_batch_fails_only_itself(api, make_user, sockets, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    tabs = [a] + [await sockets.connect(ann) for _ in range(3)]
    # every tab sends the same clientId at once, beside sends of their own: one batch
    # (or a few) holds the same clientId several times
    sends = [tab.emit_ack("new-message", _payload(chat_id, "once", clientId="same-id")) for tab in tabs]
    sends += [tab.emit_ack("new-message", _payload(chat_id, f"other {i}", clientId=f"own-{i}"))
              for i, tab in enumerate(tabs)]
    acks = await asyncio.gather(*sends)
    assert all(ack["success"] is True for ack in acks), acks
    repeated = {ack["message"]["_id"] for ack in acks[:len(tabs)]}
    assert len(repeated) == 1, acks  # every tab is told of the one stored message
    others = {ack["message"]["content"] for ack in acks[len(tabs):]}
    assert others == {f"other {i}" for i in range(len(tabs))}

    got = await b.collect("message", 1 + len(tabs), timeout=10)
    assert sorted(m["content"] for m in got) == sorted(["once"] + [f"other {i}" for i in range(len(tabs))])
    await b.no_event("message", match=lambda m: m["content"] == "once")
    stored = [m["content"] for m in await messages(api, bob, chat_id)]
    assert stored.count("once") == 1 and len(stored) == 2 + len(tabs)  # with the opening "hi"


async def test_a_block_by_chatkit_admin_refuses_the_very_next_send(api, admin, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    for i in range(5):  # the chat and both users are now held in memory by the server
        await a.send(f"warm {i}", chat_id=chat_id)
        await b.send(f"warm back {i}", chat_id=chat_id)

    await admin("block", bob.email, ann.email)
    assert_failed_ack(await a.emit_ack("new-message", _payload(chat_id, "too late")), Sentence.BLOCKED)
    assert_failed_ack(await b.emit_ack("new-message", _payload(chat_id, "nor me")), Sentence.BLOCKED)

    await admin("unblock", bob.email, ann.email)
    await a.send("again", chat_id=chat_id)
    assert "too late" not in [m["content"] for m in await messages(api, bob, chat_id)]


async def test_a_ban_by_chatkit_admin_applies_to_the_next_send(admin, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    for i in range(3):
        await a.send(f"warm {i}", chat_id=chat_id)
    await admin("users", "ban", bob.email)
    # the server learns of the ban from the database (it hangs up on Bob); from then on
    # nothing it holds lets Ann write to him
    await b.wait_disconnected()
    assert_failed_ack(await a.emit_ack("new-message", _payload(chat_id, "to a banned user")),
                      Sentence.USER_UNAVAILABLE)
    await admin("users", "unban", bob.email)


async def test_a_clear_racing_a_burst_opens_the_chat_again_exactly_once(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    start = len(b.history)
    sending = [asyncio.ensure_future(a.emit_ack("new-message", _payload(chat_id, f"m{i:02d}")))
               for i in range(BURST)]
    await asyncio.sleep(0)  # the burst is on its way as the clear goes out
    await clear_ok(api, bob, chat_id)
    acks = await asyncio.gather(*sending)
    assert all(ack["success"] is True for ack in acks), acks

    heard = await _heard(b, BURST, start)
    assert {_message_of(name, data)["_id"] for name, data in heard} == {ack["message"]["_id"] for ack in acks}
    visible = [m["_id"] for m in reversed(await messages(api, bob, chat_id))]  # oldest first
    reopened = [_message_of(name, data)["_id"] for name, data in heard if name == "new-chat"]
    # the first message stored after the clear (if any) reopens the chat for Bob; no other does
    assert reopened == visible[:1], (reopened, visible)
    await a.no_event("new-chat", within=0)


@pytest.mark.parametrize("viewing", [True, False], ids=["seen", "delivered"])
async def test_a_burst_is_acknowledged_with_fewer_receipts_and_the_last_one_says_it_all(api, pair, viewing):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    if viewing:  # Bob looks at the chat: what arrives is read, and Ann hears ``messages-seen``
        await b.emit_ack("join-chat", {"chatId": chat_id})
    receipt, says_it_all = ("messages-seen", "seenTime") if viewing else ("message-delivered", "messageTime")
    await a.next(receipt)  # for "hi": delivered (Bob online), then read (Bob joined)
    a.drain(receipt)
    acks = await asyncio.gather(*(a.emit_ack("new-message", _payload(chat_id, f"m{i:02d}")) for i in range(BURST)))
    assert all(ack["success"] is True for ack in acks), acks
    last = acks[-1]["message"]

    final = await a.next(receipt, match=lambda r: r[says_it_all] == last["createdAt"])
    earlier = a.drain(receipt)  # a socket's events arrive in order: every earlier receipt is here
    assert final["chatId"] == chat_id and (viewing or final["messageId"] == last["_id"])
    assert len(earlier) + 1 < BURST, earlier  # the sends shared batches, and each batch one receipt
    assert all(r[says_it_all] < last["createdAt"] for r in earlier), earlier
    stored = await messages(api, ann, chat_id)
    assert len(stored) == BURST + 1
    assert all(m["isDelivered"] and m["isRead"] == viewing for m in stored[:BURST]), stored


async def test_each_senders_order_holds_across_batches(api, make_user, sockets):
    bob = await make_user("Bob", "Ray")
    b = await sockets.connect(bob)
    senders: list[tuple[Account, Peer]] = []
    for i in range(4):
        account = await make_user(f"Sender{i}", "Lee")
        senders.append((account, await sockets.connect(account)))
    chats = [await peer.send("open", other_user_id=bob.id) for _, peer in senders]
    for _ in senders:
        await b.next("new-chat")

    async def burst(peer: Peer, chat_id: str, tag: str) -> None:
        for n in range(BURST):  # without waiting for acks: many batches, several senders in each
            await peer.emit("new-message", _payload(chat_id, f"{tag} {n:02d}"))

    await asyncio.gather(*(burst(peer, chat["chat"], f"s{i}") for i, ((_, peer), chat) in
                           enumerate(zip(senders, chats, strict=True))))
    got = [m["content"] for m in await b.collect("message", BURST * len(senders), timeout=15)]
    for i, (_, chat) in enumerate(zip(senders, chats, strict=True)):
        expected = [f"s{i} {n:02d}" for n in range(BURST)]
        assert [c for c in got if c.startswith(f"s{i} ")] == expected
        stored = [m["content"] for m in reversed(await messages(api, bob, chat["chat"]))]
        assert stored == ["open", *expected]


async def test_two_servers_racing_first_messages_make_one_chat_and_one_new_chat_per_side(
    tmp_path: Path, settings, server, make_user,
):
    ann, bob = await make_user("Ann", "Lee"), await make_user("Bob", "Ray")
    other = _second_server(tmp_path, settings)
    pools = [PeerPool(server.url), PeerPool(other.url)]
    try:
        # each user on both servers: between them they emit every event there is
        a1, a2 = [await pool.connect(ann) for pool in pools]
        b1, b2 = [await pool.connect(bob) for pool in pools]
        routes = [(a1, bob), (b2, ann), (a2, bob), (b1, ann)]  # both servers, both directions
        acks = await asyncio.gather(*(
            peer.emit_ack("new-message", {"otherUserId": to.id, "content": f"race {i}"})
            for i in range(4 * 3) for peer, to in [routes[i % 4]]
        ))
        assert all(ack["success"] is True for ack in acks), acks
        assert len({ack["message"]["chat"] for ack in acks}) == 1, acks
        for side in ((a1, a2), (b1, b2)):  # a server tells the sockets it holds of what it stored
            heard = [e for peer in side for e in await _heard(peer, 6)]
            assert [name for name, _ in heard].count("new-chat") == 1, heard
    finally:
        for pool in pools:
            await pool.close()
        other.stop()


def _message_of(name: str, data: Any) -> Any:
    return data["messages"][0] if name == "new-chat" else data


async def _heard(peer: Peer, count: int, start: int = 0) -> list[tuple[str, Any]]:
    """The first ``count`` messages ``peer`` heard of after its ``start``-th event
    (``message`` or ``new-chat``), in arrival order."""
    def messages_heard() -> list[tuple[str, Any]]:
        return [(name, data) for name, data in peer.history[start:] if name in ("message", "new-chat")]

    async def probe() -> list[tuple[str, Any]]:
        return messages_heard()

    heard = await wait_until(probe, until=lambda h: len(h) >= count, timeout=10, what=f"{count} messages")
    return heard[:count]


def _second_server(tmp_path: Path, settings) -> Server:
    """``chatkit serve`` in a child process on the test's database (the same JWT secret)."""
    env = child_env(CHATKIT_JWT_SECRET=settings.jwt_secret or "")
    return Server(tmp_path / "serve2.log", ["--mongo-url", settings.mongo_url or "", "--db-name", settings.db_name,
                                            "--data-dir", str(tmp_path / "data2"), "--port",
                                            str(mongod.free_port())], env)
