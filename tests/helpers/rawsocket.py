"""A Socket.IO client that speaks raw Engine.IO v4 text frames over a websocket.

For packets python-socketio's client will not build (an event whose arguments are not a
list, JSON that does not parse, a packet past the size limit): the test writes the
frame itself, e.g. ``'421[5,{}]'`` (Engine.IO message ``4``, Socket.IO event ``2``, ack
id ``1``, data ``[5, {}]``), and reads the server's frames back, e.g. the ack ``'431[...]'``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

TIMEOUT = 5.0


class RawSocket:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.frames: list[str] = []  # every text frame received, in order
        self.closed = False
        self.limit = 0  # the maxPayload the server announced

    @classmethod
    async def open(cls, server_url: str) -> RawSocket:
        """Open the websocket and take the Engine.IO handshake; no namespace joined yet."""
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(f"{server_url}/socket.io/?EIO=4&transport=websocket",
                                          max_msg_size=0)
            raw = cls(session, ws)
            handshake = await raw.frame(lambda f: f.startswith("0{"))
            raw.limit = json.loads(handshake[1:])["maxPayload"]
        except BaseException:
            await session.close()
            raise
        return raw

    @classmethod
    async def connect(cls, server_url: str, token: str) -> RawSocket:
        """Open the websocket and join the default namespace with ``token`` in ``auth``."""
        raw = await cls.open(server_url)
        try:
            await raw.send("40" + json.dumps({"token": token}))
            await raw.frame(lambda f: f.startswith("40{"))
        except BaseException:
            await raw.close()
            raise
        return raw

    async def send(self, frame: str) -> None:
        await self.ws.send_str(frame)

    async def frame(self, match: Any, timeout: float = TIMEOUT) -> str:
        """The first frame received so far or within ``timeout`` that ``match(frame)`` accepts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            for f in self.frames[seen:]:
                if match(f):
                    return f
            seen = len(self.frames)
            if self.closed:
                raise AssertionError(f"connection closed; frames: {self.frames!r}"[:600])
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; got {self.frames!r}"[:600])
            await self._receive(remaining)

    async def ack(self, ack_id: int, timeout: float = TIMEOUT) -> Any:
        """The data of the server's ack ``43<ack_id>[data]``."""
        prefix = f"43{ack_id}["
        found = await self.frame(lambda f: f.startswith(prefix), timeout)
        data = json.loads(found[len(prefix) - 1:])
        assert isinstance(data, list) and len(data) == 1, found
        return data[0]

    async def event(self, name: str, timeout: float = TIMEOUT) -> Any:
        """The argument of the next ``42["name", arg]`` frame not taken before."""
        prefix = "42" + json.dumps([name])[:-1] + ","
        found = await self.frame(lambda f: f.startswith(prefix), timeout)
        self.frames.remove(found)
        return json.loads(found[2:])[1]

    async def wait_closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait for the server to close the websocket; its close code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"still open after {timeout}s")
            await self._receive(remaining)
        return self.ws.close_code

    async def _receive(self, timeout: float) -> None:
        try:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            return
        if msg.type == aiohttp.WSMsgType.TEXT:
            if msg.data == "2":  # Engine.IO ping: answer, or the server hangs up
                await self.ws.send_str("3")
            else:
                self.frames.append(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                          aiohttp.WSMsgType.ERROR):
            self.closed = True

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()
