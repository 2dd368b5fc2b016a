"""Socket.IO test harness: real ``socketio.AsyncClient`` peers that record every event.

A :class:`Peer` keeps each received event in a per-event queue, so a test can wait for
"the next ``message`` event whose content is X" (``await peer.next("message", match=...)``)
without losing the events it is not looking at, and can assert that nothing of a kind
arrives within a short window (``await peer.no_event("typing")``).

Waits are bounded: ``next`` fails with a clear message listing what *did* arrive. Waits
wake on each arrival rather than polling, so a burst of events costs no extra latency.

:class:`Pair` is the opening most messaging tests share: Ann and Bob, one socket each.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import socketio
from socketio.exceptions import ConnectionError as SocketConnectionError

from tests.helpers.accounts import Account

DEFAULT_TIMEOUT = 5.0
QUIET_WINDOW = 0.5
_MISSING = object()
_names = itertools.count(1)

Match = Callable[[Any], bool] | None


class ConnectRefused(SocketConnectionError):
    """The server refused the connection; ``reason`` is the ``connect_error`` message."""

    def __init__(self, reason: str | None, data: Any, original: str) -> None:
        super().__init__(f"connection refused: {reason!r} ({original})")
        self.reason = reason
        self.data = data


def _reason_of(data: Any) -> str | None:
    if isinstance(data, dict):
        msg = data.get("message")
        return msg if isinstance(msg, str) else None
    if isinstance(data, str):
        return data
    return None


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...)"


class Peer:
    """One connected Socket.IO client, recording every server event it receives."""

    def __init__(self, sio: socketio.AsyncClient, label: str) -> None:
        self.sio = sio
        self.label = label
        self.queues: dict[str, list[Any]] = defaultdict(list)
        self.history: list[tuple[str, Any]] = []
        self.connect_error: Any = _MISSING
        self.disconnect_reason: Any = None
        self.disconnected = asyncio.Event()
        self._arrived = asyncio.Event()

        # Handlers are plain functions so that events are recorded in arrival order.
        @sio.on("*")
        def _any(event: str, *args: Any) -> None:
            data: Any = args[0] if len(args) == 1 else (list(args) if args else None)
            self.queues[event].append(data)
            self.history.append((event, data))
            self._arrived.set()

        @sio.on("connect_error")
        def _connect_error(data: Any = None) -> None:
            self.connect_error = data

        @sio.on("disconnect")
        def _disconnect(reason: Any = None) -> None:
            self.disconnect_reason = reason
            self.disconnected.set()
            self._arrived.set()

    # --- receiving -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.sio.connected

    def _take(self, event: str, match: Match, consume: bool = True) -> Any:
        queue = self.queues.get(event, [])
        for i, data in enumerate(queue):
            if match is None or _safe_match(match, data):
                if consume:
                    del queue[i]
                return data
        return _MISSING

    async def next(self, event: str, timeout: float = DEFAULT_TIMEOUT, match: Match = None) -> Any:
        """The oldest not-yet-taken ``event`` (matching ``match``), waiting up to ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self._take(event, match)
            if found is not _MISSING:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.label}: no {event!r} event{' matching the condition' if match else ''} "
                    f"within {timeout}s; queued {event!r}: {_short(self.queues.get(event, []))}; "
                    f"all received: {_short([e for e, _ in self.history], 600)}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def collect(self, event: str, count: int, timeout: float = DEFAULT_TIMEOUT,
                      match: Match = None) -> list[Any]:
        """The next ``count`` ``event`` events, in arrival order."""
        return [await self.next(event, timeout, match) for _ in range(count)]

    async def no_event(self, event: str, within: float = QUIET_WINDOW, match: Match = None) -> None:
        """Assert that no (matching) ``event`` is queued now or arrives within ``within`` s."""
        await asyncio.sleep(within)
        found = self._take(event, match, consume=False)
        assert found is _MISSING, f"{self.label}: unexpected {event!r} event: {_short(found)}"

    def drain(self, event: str | None = None) -> list[Any]:
        """Drop (and return) queued events of one kind, or of every kind."""
        if event is None:
            dropped = [d for q in self.queues.values() for d in q]
            self.queues.clear()
            return dropped
        return self.queues.pop(event, [])

    def pending(self, event: str) -> list[Any]:
        return list(self.queues.get(event, []))

    async def wait_disconnected(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        try:
            await asyncio.wait_for(self.disconnected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.label}: still connected after {timeout}s") from None

    # --- sending ---------------------------------------------------------------------

    async def emit(self, event: str, payload: Any = None) -> None:
        await self.sio.emit(event, payload)

    async def emit_ack(self, event: str, payload: Any = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Emit with an ack callback and return what the server acknowledged with."""
        try:
            return await self.sio.call(event, payload, timeout=timeout)
        except socketio.exceptions.TimeoutError:
            raise AssertionError(f"{self.label}: no ack for {event!r} within {timeout}s") from None

    async def send(self, content: str, *, chat_id: str | None = None, other_user_id: str | None = None,
                   **extra: Any) -> dict[str, Any]:
        """Send a text message, assert the ack is a success, return the stored message."""
        payload: dict[str, Any] = {"content": content, **extra}
        if chat_id is not None:
            payload["chatId"] = chat_id
        if other_user_id is not None:
            payload["otherUserId"] = other_user_id
        ack = await self.emit_ack("new-message", payload)
        assert isinstance(ack, dict) and ack.get("success") is True, f"{self.label}: send failed: {ack!r}"
        message = ack.get("message")
        assert isinstance(message, dict) and message.get("_id"), f"ack without the message: {ack!r}"
        return message

    async def close(self) -> None:
        """Hang up. A polling client's disconnect waits for its pending long-poll (up to the
        ping interval, ~25 s, in python-engineio); past a short grace, drop the HTTP session."""
        if self.sio.connected:
            try:
                await asyncio.wait_for(asyncio.shield(self.sio.disconnect()), 1)
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(self.disconnected.wait(), 1)
            except TimeoutError:
                pass
        await _close_http(self.sio)
        await self.sio.shutdown()


async def _close_http(sio: socketio.AsyncClient) -> None:
    http = getattr(sio.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


def _safe_match(match: Callable[[Any], bool], data: Any) -> bool:
    try:
        return bool(match(data))
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


async def connect(
    server_url: str, token: str | None, *, via: str = "header",
    transports: Iterable[str] = ("websocket",), label: str | None = None,
    headers: dict[str, str] | None = None,
) -> Peer:
    """Connect a new client; raises :class:`ConnectRefused` when the server says no.

    ``via="header"`` sends ``authorization: <token>`` (the mobile apps), ``via="auth"``
    sends the Socket.IO auth payload ``{token}`` (browsers), ``via="none"`` sends nothing.
    """
    sio = socketio.AsyncClient(reconnection=False)
    peer = Peer(sio, label or f"peer{next(_names)}")
    all_headers = dict(headers or {})
    auth = None
    if via == "header" and token is not None:
        all_headers["authorization"] = token
    elif via == "auth":
        auth = {"token": token}
    elif via not in ("header", "none"):
        raise ValueError(via)
    try:
        await sio.connect(server_url, headers=all_headers, auth=auth, transports=list(transports),
                          wait_timeout=5)
    except SocketConnectionError as exc:
        data = None if peer.connect_error is _MISSING else peer.connect_error
        await sio.shutdown()
        await _close_http(sio)
        raise ConnectRefused(_reason_of(data), data, str(exc)) from None
    return peer


class PeerPool:
    """Creates peers for one test and disconnects them all at its end."""

    def __init__(self, server_url: str) -> None:
        self.url = server_url
        self.peers: list[Peer] = []

    async def connect(self, account: Account | None = None, *, token: str | None = None, via: str = "header",
                      transports: Iterable[str] = ("websocket",), label: str | None = None,
                      headers: dict[str, str] | None = None) -> Peer:
        """Connect as ``account`` (anything with ``.token``) or with an explicit ``token``."""
        if token is None and account is not None:
            token = account.token
        if label is None and account is not None:
            label = getattr(account, "data", {}).get("firstName") or None
        peer = await connect(self.url, token, via=via, transports=transports, label=label,
                             headers=headers)
        self.peers.append(peer)
        return peer

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.peers), return_exceptions=True)
        self.peers.clear()


class Pair(NamedTuple):
    """Ann Lee and Bob Ray, registered, each with one connected socket (the ``pair`` fixture).

    Unpacks as ``ann, bob, a, b = pair``.
    """

    ann: Account
    bob: Account
    ann_socket: Peer
    bob_socket: Peer

    async def start_chat(self, content: str = "hi") -> str:
        """Ann writes Bob a first message and both sockets take the chat's ``new-chat``;
        returns the chat id."""
        chat_id = (await self.ann_socket.send(content, other_user_id=self.bob.id))["chat"]
        for peer in (self.bob_socket, self.ann_socket):
            await peer.next("new-chat", match=lambda e: e["_id"] == chat_id)
        return chat_id
