"""A lean Socket.IO client: Engine.IO 4 / Socket.IO 5 straight over an aiohttp websocket.

python-socketio's ``AsyncClient`` costs a few times more CPU per event than a server
spends relaying it, so a generator built on it would measure itself. This speaks the
few frames a load test needs (``40`` connect, ``42`` events, ``42<id>``/``43<id>`` acks,
``2``/``3`` ping-pong) and hands each event frame over undecoded: the caller decodes
only the events it measures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

# called with (event name, raw frame) for every event; ``decode`` turns the frame into its data
Listener = Callable[[str, str], None]


class Refused(Exception):
    """The server refused the socket (``44{message}``) or broke the handshake."""


def decode(frame: str) -> Any:
    """The data of an event frame ``42["name",data]`` (None when it has none)."""
    body = json.loads(frame[frame.index("["):])
    return body[1] if len(body) > 1 else None


def event_name(frame: str) -> str:
    start = frame.index('"') + 1
    return frame[start:frame.index('"', start)]


class LeanSocket:
    """One connection on the default namespace, the token in the ``authorization`` header
    (what the original apps send, and all the bare relay reads)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str, listener: Listener) -> None:
        self.session = session
        self.url = url.replace("http", "ws", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        self.token = token
        self.listener = listener
        self.connect_s: float | None = None
        self.closed_by_server = False
        self._closing = False
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._sending: set[asyncio.Future[None]] = set()

    async def open(self, timeout: float = 20.0) -> None:
        """Connect and pass the handshake; ``connect_s`` is how long that took."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                self._ws = await self.session.ws_connect(
                    self.url, headers={"Authorization": self.token}, autoping=True, max_msg_size=0, compress=0)
                opening = await self._ws.receive()
                if opening.type != aiohttp.WSMsgType.TEXT or not str(opening.data).startswith("0"):
                    raise Refused(f"no Engine.IO open packet: {str(opening.data)[:80]!r}")
                await self._ws.send_str("40")
                while True:
                    reply = await self._ws.receive()
                    if reply.type != aiohttp.WSMsgType.TEXT:
                        raise Refused(f"socket closed during the handshake ({reply.type.name})")
                    data = str(reply.data)
                    if data.startswith("40"):
                        break
                    if data.startswith("44"):
                        raise Refused(_refusal(data[2:]))
                    if data == "2":
                        await self._ws.send_str("3")
        except TimeoutError:
            await self.close()
            raise Refused(f"no Socket.IO handshake within {timeout:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            await self.close()
            raise Refused(f"cannot connect: {type(exc).__name__}: {exc}") from None
        self.connect_s = time.perf_counter() - started
        self._reader = asyncio.create_task(self._read())

    def emit(self, event: str, data: Any) -> None:
        """Queue an event without waiting (aiohttp writes it as soon as the loop runs)."""
        assert self._ws is not None
        # aiohttp writes an uncompressed frame before its first await, so tasks started in
        # order put their frames on the wire in order
        task = asyncio.ensure_future(self._ws.send_str("42" + json.dumps([event, data], separators=(",", ":"))))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def call(self, event: str, data: Any, timeout: float = 30.0) -> Any:
        """Emit with an acknowledgement and return what the server acknowledged."""
        assert self._ws is not None
        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._ws.send_str(f"42{ack_id}" + json.dumps([event, data], separators=(",", ":")))
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._acks.pop(ack_id, None)

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = str(msg.data)
            if frame.startswith("42"):
                self.listener(event_name(frame), frame)
            elif frame == "2":
                await self._ws.send_str("3")
            elif frame.startswith("43"):
                bracket = frame.index("[")
                future = self._acks.get(int(frame[2:bracket]))
                if future is not None and not future.done():
                    body = json.loads(frame[bracket:])
                    future.set_result(body[0] if body else None)
            elif frame.startswith("41") or frame == "1":
                break
        self.closed_by_server = not self._closing
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectionError("socket closed"))

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            try:
                await self._ws.send_str("41")
            except (aiohttp.ClientError, OSError, RuntimeError):
                pass
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()


def _refusal(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return body[:200]
