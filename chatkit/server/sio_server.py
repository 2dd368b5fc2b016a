"""python-socketio's server, guarding what arrives from the wire before any handler runs.

Three kinds of packet never reach an application handler:

- events named like python-socketio's lifecycle handlers (``connect``, ``disconnect``,
  ...), named ``*``, or not named by a string at all. python-socketio would route a
  client event named ``disconnect`` to the disconnect handler (the server forgets a
  socket that stays open), ``connect`` to the connect handler (the socket
  re-authenticates as whoever's token the payload carries) and ``*`` to the catch-all
  handler without the name (the payload taken for the sid);
- packets over :data:`PACKET_MAX` bytes. Engine.IO's own limit closes the connection
  without a word and leaves the client waiting for its ack until it times out, so the
  transport accepts up to :data:`TRANSPORT_MAX` and packets between the two are refused
  here, visibly; only past :data:`TRANSPORT_MAX` is the connection closed;
- packets that do not decode (bad JSON, an unknown type): one warning line, not a
  traceback; a ``connect`` packet that does not decode gets a ``connect_error``.

Each refusal is an ``error {message}`` event and, when the packet asked for an ack, a
failed ack ``{success:false, message}``. Nothing else changes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any

import socketio
from aiohttp.web import WebSocketResponse
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from socketio import packet

from chatkit.protocol import Event, Sentence
from chatkit.server.packet_json import PacketJson

log = logging.getLogger(__name__)

PACKET_MAX = 1_000_000  # bytes of one Socket.IO packet; a text message needs under 30 KB
TRANSPORT_MAX = 4 * PACKET_MAX  # past this Engine.IO closes the connection (websocket code 1009)
# "<type>[<attachments>-][<namespace>,][<ack id>]" at the start of an encoded packet
_FROM_CLIENTS = (packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK, packet.BINARY_EVENT,
                 packet.BINARY_ACK)
_HEADER = re.compile(r"([0-6])(?:\d+-)?(/[^,\[{\"]*,)?(\d{1,18})?")


class MalformedPacket(ValueError):
    """A packet from the wire that does not decode."""


class WirePacket(packet.Packet):  # type: ignore[misc]  # untyped base
    """python-socketio's packet, raising :class:`MalformedPacket` for what it cannot decode,
    so that bad input is told apart from a failure in a handler."""

    json = PacketJson  # orjson, with ObjectIds and datetimes as the contract writes them

    def decode(self, encoded_packet: Any) -> Any:
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError) as exc:  # bad JSON, type or id
            raise MalformedPacket(type(exc).__name__) from None
        if self.packet_type not in _FROM_CLIENTS:
            raise MalformedPacket(f"packet type {str(self.packet_type)[:8]!r}")
        return attachments


class AckLater:
    """A handler's answer that is not ready yet: the socket goes on reading its next
    packet now, and the ack (if one was asked for) is sent when ``answer`` is done."""

    def __init__(self, answer: Awaitable[Any]) -> None:
        self.answer = answer


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]  # untyped base
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answering: set[asyncio.Future[None]] = set()

    async def _handle_event_internal(self, server: Any, sid: str, eio_sid: str, data: Any, namespace: str | None,
                                     id: int | None) -> None:
        result = await server._trigger_event(data[0], namespace, sid, *data[1:])
        if isinstance(result, AckLater):
            task = asyncio.ensure_future(self._ack_when_ready(eio_sid, namespace, id, result.answer))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        elif result != self.not_handled and id is not None:
            await self._ack(eio_sid, namespace, id, result)

    async def _ack_when_ready(self, eio_sid: str, namespace: str | None, id: int | None,
                              answer: Awaitable[Any]) -> None:
        result = await answer
        if id is not None:
            await self._ack(eio_sid, namespace, id, result)

    async def _ack(self, eio_sid: str, namespace: str | None, id: int, result: Any) -> None:
        """What python-socketio does with a handler's return value: an ACK packet."""
        data = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        await self._send_packet(eio_sid, self.packet_class(packet.ACK, namespace=namespace, id=id, data=data))

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        if len(data) > PACKET_MAX:
            await self._refuse_oversized(eio_sid, data)
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except MalformedPacket as exc:
            log.warning("refused a malformed Socket.IO packet: %s", exc)
            kind, namespace, ack_id = _header(data)
            if kind == packet.CONNECT:  # e.g. an ``auth`` that is not an object: refuse the socket
                await self._send_packet(eio_sid, self.packet_class(
                    packet.CONNECT_ERROR, namespace=namespace or "/", data={"message": Sentence.MALFORMED_PACKET}))
            else:
                await self._refuse(eio_sid, namespace, ack_id, Sentence.MALFORMED_PACKET)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        name = data[0] if isinstance(data, list) and data else None
        if isinstance(name, str) and name not in Event.RESERVED and name != "*":
            await super()._handle_event(eio_sid, namespace, id, data)
            return
        if name == "*":  # python-socketio would call the catch-all handler as this event's own, minus its name
            message = "Unknown event: *"
        elif isinstance(name, str):
            message = f"Reserved event name: {name}"
        else:
            message = "Event name must be a string"
        await self._refuse(eio_sid, namespace, id, message)

    async def _refuse_oversized(self, eio_sid: str, data: str | bytes) -> None:
        """Answer a packet too large to decode, from its header alone."""
        pending = self._binary_packet.pop(eio_sid, None)  # an attachment of a binary event
        if pending is not None:
            namespace, ack_id = pending.namespace, pending.id
        else:
            _, namespace, ack_id = _header(data)
        log.warning("refused a Socket.IO packet of %d bytes", len(data))
        await self._refuse(eio_sid, namespace, ack_id, Sentence.PACKET_TOO_LARGE)

    async def _refuse(self, eio_sid: str, namespace: str | None, ack_id: int | None, message: str) -> None:
        """An ``error`` event, and the failed ack if the packet asked for one."""
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None or not self.manager.is_connected(sid, namespace):
            return
        await self.emit(Event.ERROR, {"message": message}, to=sid, namespace=namespace)
        if ack_id is not None:
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace, id=ack_id, data=[{"success": False, "message": message}]))


def _header(data: str | bytes) -> tuple[int | None, str | None, int | None]:
    """(packet type, namespace, ack id) read from the start of an encoded packet, without
    decoding the rest; an ack id only for the event packets that may carry one."""
    header = _HEADER.match(data[:64]) if isinstance(data, str) else None
    if header is None:
        return None, None, None
    kind = int(header.group(1))
    namespace = header.group(2)[:-1] if header.group(2) else None
    ack_id = int(header.group(3)) if header.group(3) and kind in (packet.EVENT, packet.BINARY_EVENT) else None
    return kind, namespace, ack_id


class _OneLine(logging.Filter):
    """python-engineio logs a frame it cannot read (e.g. an unknown packet type) with a
    traceback at ERROR, from a loop any client can feed: keep it to one warning line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__} in a client's frame"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class DirectManager(socketio.AsyncManager):  # type: ignore[misc]  # untyped base
    """python-socketio's manager, handing an event to its recipients' queues in turn.

    The stock manager starts one asyncio task per recipient and waits for them all,
    for every event; a chat event has one or two recipients and handing a packet over
    is a queue put that does not wait, so those tasks were a fifth of the server's CPU
    per message (py-spy, BENCHMARKS.md). A recipient that cannot take it (its socket
    just closed) is skipped, as before, without stopping the others.
    """

    async def emit(self, event: str, data: Any, namespace: str, room: str | None = None, skip_sid: Any = None,
                   callback: Any = None, to: str | None = None, **kwargs: Any) -> None:
        if callback is not None:  # an ack id per recipient: the stock path
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to,
                               **kwargs)
            return
        room = to or room
        if namespace not in self.rooms:
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        skip = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        encoded = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        frames = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in (encoded if isinstance(encoded, list)
                                                                     else [encoded])]
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            for frame in frames:
                try:
                    await self.server._send_eio_packet(eio_sid, frame)
                except Exception as exc:  # closed meanwhile: its disconnect is under way
                    log.debug("event %r not sent to %s: %s", event, sid, type(exc).__name__)
                    break


class _UncompressedWebSocket(engineio_aiohttp.WebSocket):  # type: ignore[misc]  # untyped base
    """python-engineio's aiohttp websocket without permessage-deflate.

    aiohttp compresses every frame when a client offers the extension (browsers and
    Node's ``ws`` do): for a chat's frames of a few hundred bytes that is CPU on both
    sides for next to no bytes saved. The Node.js backend leaves it off too.
    """

    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(environ["aiohttp.request"])
        self.environ = environ
        await self.handler(self)
        return self._sock


class RedisDirectManager(socketio.AsyncRedisManager, DirectManager):  # type: ignore[misc]  # untyped base
    """python-socketio's Redis manager over ``DirectManager``: an emit to a user's room is
    published on the deployment's channel and every process (this one first) hands it
    to the sockets of that room it holds, as ``DirectManager`` does.

    Publishes keep the order of the emits: concurrent publishes would each take a
    connection of redis-py's pool and could reach Redis, and so the other processes, in
    any order, delivering one sender's messages out of order. Those waiting while a
    batch is on its way go out together as the next batch, one pipeline on one
    connection, so order costs no round trip per event.
    """

    connected: bool  # python-socketio's: whether ``redis`` is set up

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._outbox: list[tuple[str, asyncio.Future[None]]] = []
        self._sender: asyncio.Future[None] | None = None

    async def _publish(self, data: Any) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outbox.append((self.json.dumps(data), done))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_outbox())
        await done

    async def _send_outbox(self) -> None:
        try:
            while self._outbox:
                batch, self._outbox = self._outbox, []
                await self._publish_batch([payload for payload, _ in batch])
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._sender = None

    async def _publish_batch(self, payloads: list[str]) -> None:
        """As python-socketio's ``_publish``: two attempts, then the events are dropped
        with an error logged (a process without Redis cannot reach the others)."""
        for attempt in (1, 2):
            try:
                if not self.connected:
                    self._redis_connect()
                async with self.redis.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        pipe.publish(self.channel, payload)
                    await pipe.execute()
                return
            except Exception as exc:
                self.connected = False
                log.error("cannot publish %d event(s) to Redis%s: %s", len(payloads),
                          ", retrying" if attempt == 1 else "; dropped", type(exc).__name__)


def new_socket_server(redis_url: str | None = None, channel: str = "socketio") -> SocketServer:
    """``redis_url``: emits reach the sockets of every process on ``channel`` (one per deployment)."""
    for name in ("engineio.server", "socketio.server"):
        engine_log = logging.getLogger(name)
        if not any(isinstance(f, _OneLine) for f in engine_log.filters):
            engine_log.addFilter(_OneLine())
    manager = DirectManager() if redis_url is None else RedisDirectManager(redis_url, channel=channel)
    server = SocketServer(client_manager=manager, async_mode="aiohttp", async_handlers=False,
                          cors_allowed_origins="*",
                          logger=False, engineio_logger=False, max_http_buffer_size=TRANSPORT_MAX,
                          serializer=WirePacket)
    # the driver's table is shared by every engine.io server in the process: replace, not edit
    server.eio._async = {**server.eio._async, "websocket": _UncompressedWebSocket}
    return server
