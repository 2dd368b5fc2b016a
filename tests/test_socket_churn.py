"""Sockets that come and go leave nothing behind (issue 7, memory that does not come back):
no user stays online once their last socket has gone, and the server keeps no per-socket
state: the gateway's, presence's and python-socketio's maps are empty again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from chatkit.server.app import GATEWAY
from chatkit.server.runner import RunningServer
from chatkit.server.sockets import CONNECTS_AT_ONCE, SocketGateway
from tests.helpers.realtime import ConnectRefused
from tests.helpers.rest import get_ok
from tests.helpers.waiting import wait_until

POLLING = "/socket.io/?EIO=4&transport=polling"


def _gateway(server: RunningServer) -> SocketGateway:
    return server.runner.app[GATEWAY]


def _held(server: RunningServer) -> dict[str, int]:
    """Entries per per-socket map in the server: chatkit's and python-socketio's."""
    gateway = _gateway(server)
    manager: Any = gateway.sio.manager
    rooms = manager.rooms.get("/", {})
    return {**gateway.footprint(), **gateway.services.presence.footprint(),
            "sio.sids": len(rooms.get(None, {})), "sio.rooms": len(rooms),
            "sio.connecting": sum(len(v) for v in manager.pending_connect.values()),
            "sio.environ": len(gateway.sio.environ)}


async def _nothing_held(server: RunningServer, *, but: int = 0) -> None:
    """Wait until the server holds no socket (or, with ``but=1``, exactly one socket)."""
    expected = {"gateway.connections": but, "gateway.tasks": 0, "gateway.transports": but,
                "users": but, "sockets": but, "viewing": but, "contacts": but,
                "watchers": but, "elsewhere": 0,  # the one user held has one contact; no other process
                "sio.sids": but, "sio.rooms": 3 * but,  # the sid's room, the user's room, the index
                "sio.connecting": 0, "sio.environ": but}

    async def held() -> dict[str, int]:
        return _held(server)

    await wait_until(held, until=lambda h: h == expected, what=f"server holding {but} socket(s)")


async def _online_to(api: httpx.AsyncClient, viewer: Any, user_id: str) -> bool:
    body = await get_ok(api, "/api/v1/chats/users", viewer, limit=100)
    return next(u["isOnline"] for u in body["data"] if u["_id"] == user_id)


async def test_rounds_of_sockets_coming_and_going_leave_no_state(server, api, make_user, sockets):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    chat_id = None
    for _ in range(5):
        peers = await asyncio.gather(*(sockets.connect(ann if i % 2 else bob) for i in range(6)))
        if chat_id is None:  # contacts from then on: presence loads and announces them
            chat_id = (await peers[0].send("hi", other_user_id=ann.id))["chat"]
        await peers[1].emit_ack("join-chat", {"chatId": chat_id})  # a chat viewed by one socket
        for token in ("not-a-token", ann.token + "x"):
            with pytest.raises(ConnectRefused):
                await sockets.connect(token=token)
        await asyncio.gather(*(p.close() for p in peers))
    await _nothing_held(server)
    assert await _online_to(api, ann, bob.id) is False


async def test_a_client_gone_while_its_connect_is_handled_is_not_left_online(server, api, make_user, sockets):
    ann, bob = await make_user("Ann"), await make_user("Bob")
    b = await sockets.connect(bob)
    await b.send("hi", other_user_id=ann.id)  # contacts: Bob would see Ann come online
    await _nothing_held(server, but=1)
    admission = _gateway(server).admission

    async def connects_in_hand() -> int:
        return _held(server)["sio.connecting"]

    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        opened = (await http.get(POLLING)).text
        url = f"{POLLING}&sid={json.loads(opened[1:])['sid']}"
        for _ in range(CONNECTS_AT_ONCE):  # every slot taken, as by a burst of connects in progress
            await admission.acquire()
        try:
            connecting = asyncio.ensure_future(http.post(url, content="40" + json.dumps({"token": ann.token})))
            await wait_until(connects_in_hand, what="Ann's connect waiting for admission")
            assert (await http.post(url, content="1")).status_code == 200  # Engine.IO close: she hangs up
        finally:
            for _ in range(CONNECTS_AT_ONCE):
                admission.release()
        await connecting
    await _nothing_held(server, but=1)  # Bob's socket, nothing of Ann's
    await b.no_event("online-users", match=lambda ids: ann.id in ids)
    assert await _online_to(api, bob, ann.id) is False
