"""Every client event validates its payload: a bad one gets ``error {message}`` (and a failed
ack when one is asked for), changes nothing, and the connection stays usable. Also: events
naming a chat or message that is not mine are refused the same way."""

from __future__ import annotations

from typing import Any

from tests.helpers.constants import UNKNOWN_ID
from tests.helpers.failures import is_error_event, is_failed_ack
from tests.helpers.realtime import Peer
from tests.helpers.rest import chats_data, contents, messages

HUGE = "x" * 100_000  # well past every limit, well under the transport's frame limit


async def _expect_rejected(peer: Peer, event: str, payloads: list[Any], *, ack: bool = True) -> list[str]:
    """Send each payload; return a description of each one that was NOT rejected properly."""
    problems = []
    for payload in payloads:
        label = repr(payload)[:80]
        if ack:
            result = await peer.emit_ack(event, payload)
            if not is_failed_ack(result):
                problems.append(f"{event} {label}: ack {result!r}")
        else:
            await peer.emit(event, payload)
        try:
            err = await peer.next("error", timeout=3)
        except AssertionError:
            problems.append(f"{event} {label}: no error event")
            continue
        if not is_error_event(err):
            problems.append(f"{event} {label}: bad error event {err!r}")
        if not peer.connected:
            problems.append(f"{event} {label}: connection dropped")
            break
    return problems


async def _setup(pair) -> str:
    """Ann and Bob share a chat holding one message, "base", and nothing queued; its id."""
    chat_id = await pair.start_chat("base")
    pair.ann_socket.drain()
    pair.bob_socket.drain()
    return chat_id


async def test_new_message_rejects_malformed_payloads(api, pair):
    ann, bob, a, b = pair
    chat_id = await _setup(pair)
    ok = {"content": "x", "chatId": chat_id}
    bad: list[Any] = [
        None, "just a string", 42, True, [ok], [],
        {},
        {"content": "neither chat nor user"},
        {"content": "both", "chatId": chat_id, "otherUserId": bob.id},
        {"chatId": chat_id},
        {"content": "", "chatId": chat_id},
        {"content": "y" * 4097, "chatId": chat_id},
        {"content": HUGE, "chatId": chat_id},
        {"content": 123, "chatId": chat_id},
        {"content": ["a"], "chatId": chat_id},
        {"content": {"$gt": ""}, "chatId": chat_id},
        {"content": None, "chatId": chat_id},
        {"content": "x", "chatId": "not-an-object-id"},
        {"content": "x", "chatId": chat_id[:-1]},
        {"content": "x", "chatId": chat_id.upper() + "zz"},
        {"content": "x", "chatId": 12345},
        {"content": "x", "chatId": {"$ne": None}},
        {"content": "x", "chatId": [chat_id]},
        {"content": "x", "otherUserId": "zzzzzzzzzzzzzzzzzzzzzzzz"},
        {"content": "x", "otherUserId": HUGE},
        {"content": "x", "otherUserId": None},
        {"content": "x", "chatId": chat_id, "type": "video"},
        {"content": "x", "chatId": chat_id, "type": 7},
        {"content": "x", "chatId": chat_id, "clientId": 5},
        {"content": "x", "chatId": chat_id, "extra": "field"},
        {"content": "x", "chatId": chat_id, HUGE: 1},
        {"content": "x", "chatId": UNKNOWN_ID},
    ]
    problems = await _expect_rejected(a, "new-message", bad)
    assert not problems, "\n".join(problems)
    # nothing was stored, nobody was told
    await b.no_event("message")
    await b.no_event("new-chat", within=0)
    assert await contents(api, ann, chat_id) == ["base"]
    assert len(await chats_data(api, ann)) == 1
    # the connection still works
    await a.send("still alive", chat_id=chat_id)
    await b.next("message", match=lambda m: m["content"] == "still alive")


async def test_new_message_rejects_malformed_payloads_without_ack(api, pair):
    ann, bob, a = pair.ann, pair.bob, pair.ann_socket
    chat_id = await _setup(pair)
    bad = ["string", {}, {"content": "", "chatId": chat_id}, {"content": "x", "chatId": "bad"},
           {"content": "z" * 4097, "otherUserId": bob.id}]
    problems = await _expect_rejected(a, "new-message", bad, ack=False)
    assert not problems, "\n".join(problems)
    assert await contents(api, ann, chat_id) == ["base"]
    await a.send("ok", chat_id=chat_id)


async def test_chat_events_reject_malformed_payloads(api, pair):
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await _setup(pair)
    bad: list[Any] = [
        None, "chat", 7, [chat_id], {}, {"chatId": None}, {"chatId": 1}, {"chatId": "bad"},
        {"chatId": HUGE}, {"chatId": {"$ne": None}}, {"chatId": chat_id, "extra": True},
        {"id": chat_id},
    ]
    problems = []
    for event in ("typing", "stop-typing", "join-chat", "leave-chat"):
        problems += await _expect_rejected(a, event, bad, ack=False)
    assert not problems, "\n".join(problems)
    await b.no_event("typing")
    await b.no_event("stop-typing", within=0)
    await b.no_event("messages-seen", within=0)
    assert a.connected
    await a.emit("typing", {"chatId": chat_id})
    await b.next("typing")


async def test_chat_events_with_ack_get_a_failed_ack(pair):
    a = pair.ann_socket
    await _setup(pair)
    problems = []
    for event in ("typing", "stop-typing", "join-chat", "leave-chat"):
        problems += await _expect_rejected(a, event, [{}, {"chatId": "bad"}, "x"], ack=True)
    problems += await _expect_rejected(a, "message-delivered", [{}, {"messageId": "bad"}], ack=True)
    assert not problems, "\n".join(problems)


async def test_message_delivered_rejects_malformed_payloads(api, pair):
    a, b = pair.ann_socket, pair.bob_socket
    chat_id = await _setup(pair)
    bad: list[Any] = [
        None, "id", 3, [], {}, {"messageId": None}, {"messageId": 12}, {"messageId": "nope"},
        {"messageId": HUGE}, {"messageId": {"$gt": ""}}, {"chatId": chat_id},
        {"messageId": UNKNOWN_ID},
    ]
    problems = await _expect_rejected(b, "message-delivered", bad, ack=False)
    assert not problems, "\n".join(problems)
    await a.no_event("message-delivered")
    assert b.connected


async def test_join_chat_of_an_unknown_chat_is_an_error(pair):
    a = pair.ann_socket
    await _setup(pair)
    problems = await _expect_rejected(a, "join-chat", [{"chatId": UNKNOWN_ID}], ack=False)
    problems += await _expect_rejected(a, "typing", [{"chatId": UNKNOWN_ID}], ack=False)
    assert not problems, "\n".join(problems)


async def test_someone_elses_chat_is_refused_on_every_event(api, make_user, sockets, pair):
    bob, a, b = pair.bob, pair.ann_socket, pair.bob_socket
    chat_id = await _setup(pair)
    cat = await make_user("Cat")
    c = await sockets.connect(cat)
    private_id = (await b.send("private", chat_id=chat_id))["_id"]  # Bob -> Ann, unread
    await a.next("message")
    await b.next("message")
    c.drain()

    problems = await _expect_rejected(c, "new-message", [{"content": "intrude", "chatId": chat_id}])
    problems += await _expect_rejected(c, "join-chat", [{"chatId": chat_id}], ack=False)
    problems += await _expect_rejected(c, "typing", [{"chatId": chat_id}], ack=False)
    problems += await _expect_rejected(c, "stop-typing", [{"chatId": chat_id}], ack=False)
    problems += await _expect_rejected(c, "message-delivered", [{"messageId": private_id}], ack=False)
    assert not problems, "\n".join(problems)

    for peer in (a, b):
        await peer.no_event("message", within=0.3)
        await peer.no_event("typing", within=0)
        await peer.no_event("stop-typing", within=0)
        await peer.no_event("messages-seen", within=0)
    await c.no_event("message", within=0)
    await c.no_event("new-chat", within=0)
    # nothing changed: no intruding message, Bob's message still unread
    msgs = {m["content"]: m for m in await messages(api, bob, chat_id)}
    assert set(msgs) == {"base", "private"}
    assert msgs["private"]["isRead"] is False
    assert await chats_data(api, cat) == []


async def test_an_unknown_event_is_answered_not_ignored(pair):
    a = pair.ann_socket
    chat_id = await _setup(pair)
    problems = await _expect_rejected(a, "send-message", [{"content": "hi", "chatId": chat_id}], ack=True)
    assert not problems, "\n".join(problems)
    assert a.connected
    await a.send("still fine", chat_id=chat_id)  # the connection is as good as before
