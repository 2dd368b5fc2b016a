"""Events named like python-socketio's lifecycle handlers, or not named by a string.

python-socketio routes a client event named ``disconnect`` to the server's disconnect
handler and ``connect`` to its connect handler: unguarded, ``emit("disconnect")`` made
the server forget a socket that stayed open (the user shown offline, every later event
"Not connected", messages to them queued as pushes) and ``emit("connect",
{"HTTP_AUTHORIZATION": <token>})`` re-authenticated the socket as someone else. Each
such event must get a failed ack and an ``error``, and change nothing at all.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bson import ObjectId

from tests.helpers.failures import assert_failed_ack, is_error_event
from tests.helpers.rawsocket import RawSocket
from tests.helpers.rest import get_ok, pushes_for

RESERVED = ["connect", "disconnect", "connect_error", "disconnecting"]


def _payloads(other_token: str) -> list[tuple[str, tuple[Any, ...]]]:
    """(label, arguments) for each payload; arguments are spread as the event's args."""
    return [
        ("no argument", ()),
        ('""', ("",)),
        ("5", (5,)),
        ("null", (None,)),
        ("[1]", ([1],)),
        ("{}", ({},)),
        ("another user's token as the header", ({"HTTP_AUTHORIZATION": other_token},)),
        ("another user's token as auth", ({"token": other_token},)),
        ("environ and auth", ({"HTTP_AUTHORIZATION": other_token}, {"token": other_token})),
    ]


def _no_tracebacks(caplog) -> None:
    bad = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], bad


async def _is_online(api, viewer, user_id: str) -> bool | None:
    for u in (await get_ok(api, "/api/v1/chats/users", viewer, limit=100))["data"]:
        if u["_id"] == user_id:
            return u["isOnline"]
    return None


async def _still_herself(api, db, pair, chat_id: str) -> None:
    """Ann's socket is connected, still Ann, still online to Bob, and still reachable."""
    ann, bob, a, b = pair
    assert a.connected
    mine = await a.send("still me", chat_id=chat_id)
    stored = await db.messages.find_one({"_id": ObjectId(mine["_id"])})
    assert stored is not None and str(stored["sender"]) == ann.id and stored["content"] == "still me"
    await b.next("message", match=lambda m: m["_id"] == mine["_id"])
    # Bob's message to her is delivered to her socket at once, and no push is queued.
    theirs = await b.send("hello Ann", chat_id=chat_id)
    await a.next("message", match=lambda m: m["_id"] == theirs["_id"])
    stored = await db.messages.find_one({"_id": ObjectId(theirs["_id"])})
    assert stored is not None and stored["isDelivered"] is True
    assert await pushes_for(db, ann.id) == []
    # She was never shown offline, and is online now.
    await b.no_event("online-users", match=lambda ids: ann.id not in ids)
    assert await _is_online(api, bob, ann.id) is True
    # Her socket did not join Bob's room as well: each message reached it once.
    ids = [m["_id"] for m in a.pending("message") if m["_id"] in (mine["_id"], theirs["_id"])]
    assert ids == [mine["_id"]], ids


async def test_lifecycle_names_sent_as_events_are_refused_and_change_nothing(api, db, pair, caplog):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await b.next("online-users", match=lambda ids: ann.id in ids)
    a.drain()
    b.drain()
    for name in RESERVED:
        for label, args in _payloads(bob.token):
            ack = await a.sio.call(name, args if args else None, timeout=5)
            message = assert_failed_ack(ack)
            assert message == f"Reserved event name: {name}", (name, label, message)
            error = await a.next("error")
            assert is_error_event(error) and error["message"] == message, (name, label, error)
            # without an ack the refusal is still visible, as an error event
            await a.emit(name, args[0] if len(args) == 1 else (args or None))
            assert (await a.next("error"))["message"] == message, (name, label)
    await _still_herself(api, db, pair, chat_id)
    _no_tracebacks(caplog)


async def test_event_names_that_are_not_strings_are_refused(api, db, pair, caplog):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await b.next("online-users", match=lambda ids: ann.id in ids)
    a.drain()
    b.drain()
    for name in [5, None, [1], {}, True, 1.5, {"HTTP_AUTHORIZATION": bob.token}]:
        ack = await a.sio.call(name, {"chatId": chat_id, "content": "x"}, timeout=5)
        assert_failed_ack(ack, "Event name must be a string")
        assert (await a.next("error"))["message"] == "Event name must be a string", name
    await _still_herself(api, db, pair, chat_id)
    _no_tracebacks(caplog)


async def test_packets_the_client_library_cannot_build_are_refused(server, api, db, pair, caplog):
    """Raw frames: an event with no name, data that is not a list, JSON that does not parse."""
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    raw = await RawSocket.connect(server.url, ann.token)  # a second tab of Ann's
    try:
        cases = [  # (frame, ack id or None, message)
            ('4210[]', 10, "Event name must be a string"),
            ('4211[null,{}]', 11, "Event name must be a string"),
            ('4212{"0":"connect"}', 12, "Event name must be a string"),
            ('4213"disconnect"', 13, "Event name must be a string"),
            ('4214', 14, "Event name must be a string"),
            ('4215["disconnect"]', 15, "Reserved event name: disconnect"),
            (f'4216["connect",{{"HTTP_AUTHORIZATION":"{bob.token}"}}]', 16, "Reserved event name: connect"),
            ('42["new-message", {"content": ', None, "Malformed Socket.IO packet"),
            ('42["disconnect"]', None, "Reserved event name: disconnect"),
            ('49["new-message"]', None, "Malformed Socket.IO packet"),  # no packet type 9
            ('44{"message":"from a client?"}', None, "Malformed Socket.IO packet"),  # connect_error
        ]
        for frame, ack_id, message in cases:
            await raw.send(frame)
            assert await raw.event("error") == {"message": message}, frame
            if ack_id is not None:
                assert await raw.ack(ack_id) == {"success": False, "message": message}, frame
        # The raw socket still works, as Ann.
        await raw.send("4220" + json.dumps(["new-message", {"chatId": chat_id, "content": "raw but fine"}]))
        ack = await raw.ack(20)
        assert ack["success"] is True and ack["message"]["content"] == "raw but fine"
        stored = await db.messages.find_one({"_id": ObjectId(ack["message"]["_id"])})
        assert str(stored["sender"]) == ann.id
    finally:
        await raw.close()
    await _still_herself(api, db, pair, chat_id)
    _no_tracebacks(caplog)


async def test_a_connect_packet_that_does_not_decode_is_refused_with_a_reason(server, api, caplog):
    """An ``auth`` that is not JSON (or a number, which the packet format reads as an id):
    a ``connect_error`` with a reason, not a client left waiting for an answer."""
    for frame in ("40[1", "402.5e-308", '40{"token":'):
        raw = await RawSocket.open(server.url)
        try:
            await raw.send(frame)
            refusal = await raw.frame(lambda f: f.startswith("44"))
            assert json.loads(refusal[2:]) == {"message": "Malformed Socket.IO packet"}, frame
        finally:
            await raw.close()
    assert (await api.get("/healthz")).status_code == 200
    _no_tracebacks(caplog)
