"""How big a Socket.IO packet may be, and what a client sees past each limit.

Up to 1 MB a packet reaches the handlers (and an oversized ``content`` gets the usual
validation error). Past 1 MB it is refused, visibly: a failed ack and an ``error``,
nothing stored, the connection kept. Past 4 MB (the ``maxPayload`` the handshake
announces) the transport closes the connection, as the README documents.
"""

from __future__ import annotations

import json
import logging

from tests.helpers.failures import assert_failed_ack
from tests.helpers.rawsocket import RawSocket

MB = 1_000_000
TOO_LARGE = "Event too large: at most 1 MB"


def _no_tracebacks(caplog) -> None:
    bad = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], bad


async def test_a_packet_over_1_mb_is_refused_visibly_and_the_socket_stays(db, pair, caplog):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    before = await db.messages.count_documents({})
    # Under the limit, the handler itself answers.
    ack = await a.emit_ack("new-message", {"content": "x" * (MB - 1000), "chatId": chat_id})
    assert_failed_ack(ack, "content must be at most 4096 characters")
    await a.next("error")
    # Over it, the packet is refused before it is decoded, with the reason.
    for size in (MB + 100, 3 * MB):
        ack = await a.emit_ack("new-message", {"content": "x" * size, "chatId": chat_id})
        assert_failed_ack(ack, TOO_LARGE)
        assert (await a.next("error")) == {"message": TOO_LARGE}
    await a.emit("typing", {"chatId": chat_id, "pad": "y" * (2 * MB)})  # no ack asked: the error still comes
    assert (await a.next("error")) == {"message": TOO_LARGE}
    assert await db.messages.count_documents({}) == before
    await b.no_event("typing")
    # The connection is intact.
    assert a.connected
    sent = await a.send("small again", chat_id=chat_id)
    await b.next("message", match=lambda m: m["_id"] == sent["_id"])
    _no_tracebacks(caplog)


async def test_past_the_transport_limit_the_connection_closes(server, api, make_user, caplog):
    ann = await make_user("Ann")
    raw = await RawSocket.connect(server.url, ann.token)
    try:
        assert raw.limit == 4 * MB  # announced in the handshake as maxPayload
        try:
            await raw.send('421["new-message",{"content":"' + "x" * (4 * MB) + '"}]')
        except ConnectionError:
            pass  # the server may hang up before the whole frame is written
        # 1009 "message too big", or 1006 when the reset beat the close frame to the client
        assert await raw.wait_closed() in (1006, 1009)
    finally:
        await raw.close()
    # The server is none the worse.
    r = await api.get("/healthz")
    assert r.status_code == 200
    _no_tracebacks(caplog)


async def test_junk_engine_io_frames_cost_one_log_line_not_a_traceback(server, api, make_user, caplog):
    """Frames that are no Engine.IO packet end the socket; unknown packet types are ignored.
    Either way the log gets at most a line, never a traceback anyone could flood it with."""
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    for junk in ("xyz", ""):
        raw = await RawSocket.connect(server.url, ann.token)
        try:
            await raw.send(junk)
            await raw.wait_closed()
        finally:
            await raw.close()
    for ignored in ("9", "4"):
        raw = await RawSocket.connect(server.url, ann.token)
        try:
            await raw.send(ignored)
            await raw.send("421" + json.dumps(["new-message", {"content": "still here", "otherUserId": bob.id}]))
            assert (await raw.ack(1))["success"] is True
        finally:
            await raw.close()
    _no_tracebacks(caplog)
    assert (await api.get("/healthz")).status_code == 200
