"""The Socket.IO side: one connection at a time, restored after a drop, nothing lost or doubled.

Each connection is a fresh ``socketio.AsyncClient`` (python-socketio's own
reconnection is off): a dead connection's late callbacks then cannot touch the new
one, and the client decides itself when to give up (a session that ended is never
retried). A connection counts as *established* only once it is restored:

1. the socket connects with the session's token (live events are held from here);
2. the chats this client views are joined again (viewing is per socket);
3. unacknowledged sends are emitted again, in their order, with their ``clientId``
   (the server stores a ``clientId`` once and acks a repeat with the stored message);
4. the messages the gap hid are fetched over REST (``_recovery``);
5. ``Connected``, the recovered messages, then the held live events are published,
   each message checked against the ledger so none is given twice.

If a step fails the socket is dropped and the attempt counts as failed: the next
attempt starts again at 1, after a backoff that doubles up to a ceiling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import socketio

from chatkit.client._dispatch import Dispatcher
from chatkit.client._events import (
    PARSERS,
    ChatEvent,
    ChatOpened,
    Connected,
    Disconnected,
    ErrorEvent,
    MessageReceived,
    OnlineUsers,
)
from chatkit.client._exceptions import (
    AUTH_SENTENCES,
    AuthError,
    ChatkitError,
    ConnectionLost,
    ProtocolError,
    ServiceUnavailable,
    Timeout,
    for_failed_ack,
)
from chatkit.client._models import Message
from chatkit.client._recovery import Ledger, all_chats, catch_up
from chatkit.client._rest import RestApi
from chatkit.protocol import Event, Sentence

log = logging.getLogger("chatkit.client")

RETRYABLE_SENDS = 5  # a send failing with ``retryable`` is sent again this often, then raised
HANGUP_TIMEOUT = 2.0  # seconds a clean hang-up may take before the transport is just dropped


@dataclass
class Backoff:
    """Waits between reconnection attempts: ``first``, doubling up to ``ceiling``, each
    randomised down to half so that many clients dropped at once do not return at once."""

    first: float = 0.25
    ceiling: float = 5.0
    attempts: int | None = None  # None: until the session ends or the client closes

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.5, 1.0)
            delay = min(delay * 2, self.ceiling)


@dataclass
class _PendingSend:
    payload: dict[str, Any]
    future: asyncio.Future[Message]
    sent_on: int = 0  # the connection it was last emitted on (0: not yet, or must be again)
    retries: int = 0
    not_before: float = 0.0
    waiters: int = 0


@dataclass
class _State:
    """What the server holds per socket, that the client re-creates on each connection."""

    joined: set[str] = field(default_factory=set)


class Realtime:
    def __init__(self, url: str, rest: RestApi, dispatcher: Dispatcher, *, timeout: float,
                 send_timeout: float, backoff: Backoff) -> None:
        self.url = url
        self.rest = rest
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.send_timeout = send_timeout
        self.backoff = backoff
        self.ledger = Ledger()
        self.online: frozenset[str] = frozenset()
        self.state = _State()
        self.my_name: Callable[[], str | None] = lambda: None
        self.sio: socketio.AsyncClient | None = None
        self._generation = 0  # numbers connections; handlers of an older one are ignored
        self._wanted = False  # between connect() and disconnect()/the session's end
        self._established = False
        self._kick_reason: str | None = None
        self._renewing = False
        self._holding: list[ChatEvent] | None = None
        self._pending: dict[str, _PendingSend] = {}
        self._calls: set[asyncio.Future[Any]] = set()
        self._emit_lock = asyncio.Lock()
        self._reconnecting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def connected(self) -> bool:
        return self._established and self.sio is not None and self.sio.connected

    @property
    def active(self) -> bool:
        """Connected, or restoring the connection: sends wait instead of failing."""
        return self._wanted

    # --- connecting -----------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and restore, or raise (``AuthError`` for a refused session)."""
        if self._wanted:
            return
        self._wanted = True
        try:
            await self._open(reconnected=self.ledger.ready)
        except BaseException:
            self._wanted = False
            self._release_held()
            raise

    async def _open(self, *, reconnected: bool) -> None:
        token = self.rest.token
        if token is None:
            raise AuthError(Sentence.AUTH_REQUIRED, 401)
        self._generation += 1
        generation = self._generation
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        refusal: list[Any] = []
        sio.on("connect_error", lambda *data: refusal.append(data[0] if data else None))
        sio.on("disconnect", partial(self._on_disconnect, generation))
        sio.on("*", partial(self._on_event, generation))
        self.sio = sio
        self._kick_reason = None
        if self._holding is None:
            self._holding = []
        try:
            await sio.connect(self.url, headers={"authorization": token}, transports=["websocket"],
                              wait_timeout=self.timeout)
        except Exception as exc:  # refused, unreachable, or a transport that broke while opening
            self.sio = None
            await _hang_up(sio)
            raise _refused(refusal, self.url, exc) from None
        try:
            await self._restore(sio, generation, reconnected=reconnected)
        except BaseException:
            self._generation += 1  # this connection's late events and its hang-up are not news
            self._established = False
            await _hang_up(sio)
            raise

    async def _restore(self, sio: socketio.AsyncClient, generation: int, *, reconnected: bool) -> None:
        for chat_id in list(self.state.joined):
            try:
                await self.call(Event.JOIN_CHAT, {"chatId": chat_id}, require_established=False)
            except (ConnectionLost, Timeout):
                raise
            except ChatkitError as exc:  # the chat is gone (cleared for good): stop viewing it
                log.info("could not view chat %s again: %s", chat_id, exc.message)
                self.state.joined.discard(chat_id)
        await self._flush(established=False)
        if self.ledger.ready:
            missed = await catch_up(self.rest, self.ledger, self.my_name())
        else:
            self.ledger.take_baseline(await all_chats(self.rest))
            missed = []
        if generation != self._generation or not sio.connected:
            raise ConnectionLost("The connection dropped while it was being restored")
        self._established = True
        self.dispatcher.publish(Connected(reconnected=reconnected))
        for event in missed:
            self._publish(event)
        self._release_held()
        self._spawn(self._flush())  # sends that queued up while restoring

    def _on_disconnect(self, generation: int, reason: Any = None) -> None:
        """A plain function, so it runs in order with the events before it (a kick's ``error``)."""
        if generation != self._generation:
            return
        was_established, self._established = self._established, False
        self.online = frozenset()
        self._fail_calls(ConnectionLost("The connection dropped"))
        if not self._wanted or not was_established:
            return  # a hang-up of ours, or an attempt still restoring: its owner decides
        if self._kick_reason is not None and not self._survivable(self._kick_reason):
            self._end(AuthError(self._kick_reason, 401))
            return
        log.info("connection lost (%s); reconnecting", reason)
        self.dispatcher.publish(Disconnected(str(reason or "transport closed"), reconnecting=True))
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        attempts = 0
        for delay in self.backoff.delays():
            await asyncio.sleep(delay)
            if not self._wanted:
                return
            attempts += 1
            try:
                await self._open(reconnected=True)
                log.info("reconnected after %d attempt(s)", attempts)
                return
            except AuthError as exc:
                if self._renewing:  # refused the old token while the new one is on its way
                    continue
                self._end(exc)
                return
            except Exception as exc:  # whatever broke this attempt, the next one may work
                reason = exc.message if isinstance(exc, ChatkitError) else type(exc).__name__
                log.info("reconnect attempt %d failed: %s", attempts, reason)
                if self.backoff.attempts is not None and attempts >= self.backoff.attempts:
                    self._end(ConnectionLost(f"Could not reconnect after {attempts} attempts: {reason}"))
                    return

    def _survivable(self, reason: str) -> bool:
        """Whether a socket closed for ``reason`` may come back with the token we hold.

        A password change closes *every* socket of the user, possibly also one already
        opened with the fresh token this client got from it (the server acts on the
        change a moment later): reconnecting then succeeds, and a stale token is refused.
        """
        return self._renewing or reason == Sentence.PASSWORD_CHANGED

    @contextlib.asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        """Around a request that ends this session's sockets and returns a new token (a
        password change): a socket closed meanwhile waits for the new token to come back."""
        self._renewing = True
        try:
            yield
        finally:
            self._renewing = False

    def _end(self, error: ChatkitError) -> None:
        """The session's live stream is over for good: say so and fail what waits on it."""
        self._wanted = False
        self._established = False
        self._generation += 1
        sio, self.sio = self.sio, None
        if sio is not None:
            self._spawn(_hang_up(sio))
        self.online = frozenset()
        self._fail_calls(error)
        self._fail_sends(error)
        self._release_held()
        log.info("live connection ended: %s", error.message)
        self.dispatcher.publish(Disconnected(error.message, reconnecting=False))
        self.dispatcher.end_stream()

    async def disconnect(self, reason: str = "closed") -> None:
        """Hang up on purpose: no reconnection, pending sends fail with ``ConnectionLost``."""
        was_wanted = self._wanted
        self._wanted = False
        self._established = False
        task, self._reconnecting = self._reconnecting, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._generation += 1
        sio, self.sio = self.sio, None
        if sio is not None:
            await _hang_up(sio)
        self.online = frozenset()
        error = ConnectionLost(f"Disconnected: {reason}")
        self._fail_calls(error)
        self._fail_sends(error)
        self._release_held()
        if was_wanted:
            self.dispatcher.publish(Disconnected(reason, reconnecting=False))
            self.dispatcher.end_stream()
        for pending in list(self._tasks):
            pending.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- receiving ------------------------------------------------------------------

    def _on_event(self, generation: int, name: str, *args: Any) -> None:
        """Every server event: parsed where it arrives, then held or published.

        A plain function, so events are taken in the order they arrived."""
        if generation != self._generation:
            return
        parse = PARSERS.get(name)
        if parse is None:
            log.warning("ignoring unknown server event %r", name[:64])
            return
        try:
            event = parse(args[0] if args else None)
        except ProtocolError as exc:
            log.warning("ignoring malformed %r event: %s", name, exc.message)
            return
        if isinstance(event, OnlineUsers):
            self.online = event.user_ids
        elif isinstance(event, ErrorEvent) and event.message in AUTH_SENTENCES:
            self._kick_reason = event.message  # the server closes the socket next
        if self._holding is not None:
            self._holding.append(event)
        else:
            self._publish(event)

    def _publish(self, event: ChatEvent) -> None:
        if isinstance(event, MessageReceived | ChatOpened) and not self.ledger.admit(event.message):
            return
        self.dispatcher.publish(event)

    def _release_held(self) -> None:
        held, self._holding = self._holding or [], None
        for event in held:
            self._publish(event)

    # --- calling --------------------------------------------------------------------

    def _live(self, *, require_established: bool = True) -> socketio.AsyncClient:
        sio = self.sio
        if sio is None or not sio.connected or (require_established and not self._established):
            raise ConnectionLost(Sentence.NOT_CONNECTED)
        return sio

    async def call(self, event: str, payload: dict[str, Any], *, require_established: bool = True) -> None:
        """Emit an event and wait for its ack; a failed ack raises its exception."""
        sio = self._live(require_established=require_established)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls.add(future)

        def acked(*args: Any) -> None:
            if not future.done():
                future.set_result(args[0] if args else None)

        try:
            async with self._emit_lock:
                await sio.emit(event, payload, callback=acked)
            try:
                ack = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                raise Timeout(f"No answer to {event} within {self.timeout:g}s") from None
        finally:
            self._calls.discard(future)
        _check_ack(ack)

    def _fail_calls(self, error: ChatkitError) -> None:
        for future in list(self._calls):
            if not future.done():
                future.set_exception(error)
        self._calls.clear()

    # --- sending ------------------------------------------------------------------

    async def send(self, payload: dict[str, Any]) -> Message:
        """Send ``new-message`` until it is acknowledged, across reconnects.

        The payload carries a ``clientId``; while unacknowledged it is emitted again on
        every new connection, and the server stores it once whatever happens.
        """
        if not self._wanted:
            raise ConnectionLost(Sentence.NOT_CONNECTED)
        client_id: str = payload["clientId"]
        entry = self._pending.get(client_id)
        if entry is None:  # a second send of the same clientId waits for the first one's ack
            entry = _PendingSend(payload, asyncio.get_running_loop().create_future())
            self._pending[client_id] = entry
        entry.waiters += 1
        try:
            await self._flush()
            return await asyncio.wait_for(asyncio.shield(entry.future), self.send_timeout)
        except TimeoutError:
            raise Timeout(f"Message not acknowledged within {self.send_timeout:g}s", client_id=client_id) from None
        finally:
            entry.waiters -= 1
            if entry.waiters == 0:
                if self._pending.get(client_id) is entry:
                    del self._pending[client_id]
                if not entry.future.done():
                    entry.future.cancel()  # a late ack is then ignored; the event still comes

    async def _flush(self, *, established: bool = True) -> None:
        """Emit, in order, every pending send not yet emitted on this connection."""
        async with self._emit_lock:
            loop = asyncio.get_running_loop()
            for entry in list(self._pending.values()):
                sio = self.sio
                if sio is None or not sio.connected or (established and not self._established):
                    return
                if entry.future.done() or entry.sent_on == self._generation or entry.not_before > loop.time():
                    continue
                entry.sent_on = self._generation
                await sio.emit(Event.NEW_MESSAGE, entry.payload, callback=partial(self._send_acked, entry))

    def _send_acked(self, entry: _PendingSend, *args: Any) -> None:
        if entry.future.done():
            return
        ack = args[0] if args else None
        if isinstance(ack, dict) and ack.get("success") is True:
            try:
                entry.future.set_result(Message.from_wire(ack.get("message")))
            except ProtocolError as exc:
                entry.future.set_exception(exc)
            return
        if isinstance(ack, dict) and ack.get("retryable") is True and entry.retries < RETRYABLE_SENDS:
            entry.retries += 1
            delay = 0.2 * 2 ** entry.retries
            entry.sent_on = 0
            loop = asyncio.get_running_loop()
            entry.not_before = loop.time() + delay
            loop.call_later(delay, lambda: self._spawn(self._flush()))
            return
        try:
            _check_ack(ack)
        except ChatkitError as exc:
            entry.future.set_exception(exc)
        else:
            entry.future.set_exception(ProtocolError("A successful send acknowledged without its message"))

    def _fail_sends(self, error: ChatkitError) -> None:
        for entry in self._pending.values():
            if not entry.future.done():
                entry.future.set_exception(error)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _check_ack(ack: Any) -> None:
    if isinstance(ack, dict) and ack.get("success") is True:
        return
    if not isinstance(ack, dict) or not isinstance(ack.get("message"), str):
        raise ProtocolError(f"Malformed acknowledgement: {ack!r:.100}")
    raise for_failed_ack(ack["message"], retryable=ack.get("retryable") is True)


def _refused(refusal: list[Any], url: str, exc: Exception) -> ChatkitError:
    """The exception for a connection the server (or the network) refused."""
    data = refusal[-1] if refusal else None
    reason = data.get("message") if isinstance(data, dict) else data if isinstance(data, str) else None
    if reason in AUTH_SENTENCES:
        return AuthError(reason, 401)
    if reason in (Sentence.SHUTTING_DOWN, Sentence.DATABASE_RETRY):
        return ServiceUnavailable(reason, 503)
    return ConnectionLost(f"Cannot connect to {url}: {reason or exc or type(exc).__name__}")


async def _hang_up(sio: socketio.AsyncClient) -> None:
    """Close a connection and its HTTP session, whatever state it is in, within a bound."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(sio.disconnect(), HANGUP_TIMEOUT)
    http = getattr(sio.eio, "http", None)
    if http is not None and not http.closed:
        with contextlib.suppress(Exception):
            await http.close()
