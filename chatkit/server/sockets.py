"""Socket.IO transport: authenticate sockets, validate payloads, call the domain.

Handlers run with ``async_handlers=False``: python-socketio then awaits each event in
the socket's own read loop, so one socket's events are handled one at a time in the
order sent, while different sockets still run concurrently. A ``new-message`` is
checked and queued for storing in that loop (so a sender's messages are stored and
delivered in order); its storing and its ack go on while the socket reads the next
one (``Queued``), which lets a sender's burst share the database's round trips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from aiohttp import web

from chatkit.domain.accounts import AuthContext
from chatkit.domain.errors import ChatkitError, TooManyRequests
from chatkit.domain.inputs import parse_id
from chatkit.domain.language import ENGLISH, pick, translate
from chatkit.domain.notifier import Payload
from chatkit.domain.presence import Arrival
from chatkit.domain.sending import SendResult
from chatkit.protocol import Event, Sentence
from chatkit.server.payloads import Schema
from chatkit.server.sio_server import AckLater
from chatkit.services import Services
from chatkit.storage.database import is_unavailable

log = logging.getLogger(__name__)

Ack = dict[str, Any]
DRAIN_QUIET = 0.2  # on shutdown, a socket silent this long has nothing more in flight
HANGUP_GRACE = 0.5  # then clients get this long to close their transports themselves
CONNECTS_AT_ONCE = 16  # sockets authenticated and announced at a time (see _connect)

NEW_MESSAGE = Schema(
    required={"content": str},
    optional={"chatId": str, "otherUserId": str, "type": str, "clientId": str},
)
CHAT_ONLY = Schema(required={"chatId": str})
MESSAGE_ONLY = Schema(required={"messageId": str})



@dataclass(frozen=True)
class Queued:
    """A handler's answer: its work goes on in ``rest``, and the socket may read on."""

    rest: Awaitable[Ack]


Handler = Callable[[AuthContext, str, dict[str, Any]], Awaitable[Ack | Queued | None]]


async def _sent(sending: Awaitable[SendResult]) -> Ack:
    return {"message": (await sending).message}


class SocketNotifier:
    """The domain's ``Notifier`` for a server: an event reaches every socket of the user.

    Payloads go to python-socketio as they are: the packet codec (``packet_json``) writes
    ObjectIds and datetimes as the contract does while it encodes, once per event.
    """

    def __init__(self, sio: socketio.AsyncServer, *, here_only: bool = False) -> None:
        self.sio = sio
        self.here_only = here_only  # with several processes: this process's sockets only

    async def emit(self, user_id: Any, event: str, payload: Payload) -> None:
        await self.sio.emit(event, payload, room=str(user_id), ignore_queue=self.here_only)

    async def emit_all(self, event: str, payload: Payload) -> None:
        await self.sio.emit(event, payload, ignore_queue=self.here_only)


class SocketGateway:
    def __init__(self, sio: socketio.AsyncServer, services: Services) -> None:
        self.services = services
        self.sio = sio
        self.connections: dict[str, AuthContext] = {}
        self.draining = False
        self._in_flight = 0
        self._last_event = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._transports: dict[int, asyncio.Task[Any]] = {}
        self.admission = asyncio.Semaphore(CONNECTS_AT_ONCE)
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self._register(Event.NEW_MESSAGE, NEW_MESSAGE, self._new_message)
        self._register(Event.TYPING, CHAT_ONLY, self._typing)
        self._register(Event.STOP_TYPING, CHAT_ONLY, self._stop_typing)
        self._register(Event.JOIN_CHAT, CHAT_ONLY, self._join_chat)
        self._register(Event.LEAVE_CHAT, CHAT_ONLY, self._leave_chat)
        self._register(Event.MESSAGE_DELIVERED, MESSAGE_ONLY, self._message_delivered)
        self.sio.on("*", self._unknown_event)

    # --- connection life ----------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Let the socket in (``_admit``), or refuse it in the language its handshake asks for."""
        try:
            await self._admit(sid, environ, auth)
        except socketio.exceptions.ConnectionRefusedError as exc:
            message = exc.error_args.get("message") if isinstance(exc.error_args, dict) else None
            lang = pick(environ.get("HTTP_LANG"))
            if not isinstance(message, str) or lang == ENGLISH:
                raise
            raise socketio.exceptions.ConnectionRefusedError(translate(message, lang)) from None

    async def _admit(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Authenticate, register and announce the socket, ``CONNECTS_AT_ONCE`` at a time.

        Without that admission, a burst of thousands of sockets starts all its database
        reads at once: they queue in the driver past ``CHATKIT_DB_TIMEOUT`` and sockets
        are refused as if the database were down. Admitted a few at a time, each read
        runs as soon as it starts. A socket keeps its slot until it has been announced
        (``_after_connect``), so those let in learn who is online before more come in.
        """
        if self.draining:
            raise socketio.exceptions.ConnectionRefusedError(Sentence.SHUTTING_DOWN)
        token = environ.get("HTTP_AUTHORIZATION")
        if not token and isinstance(auth, dict) and isinstance(auth.get("token"), str):
            token = auth["token"]
        await self.admission.acquire()
        try:
            ctx = await self._authenticate(token)
            if not self._transport_open(sid):
                # The client hung up while it was authenticated. python-socketio ignores a
                # disconnect that arrives while the connect handler runs, so accepting now
                # would keep a socket nobody ever disconnects: its user online for good.
                # Refusing makes python-socketio forget it.
                raise socketio.exceptions.ConnectionRefusedError(Sentence.NOT_CONNECTED)
            user_key = str(ctx.user_id)
            self.connections[sid] = ctx
            log.debug("socket %s connected: user %s", sid, user_key)
            await self.sio.enter_room(sid, user_key)
            arrival = self.services.presence.connect(sid, user_key)
            announcing = self._spawn(self._after_connect(ctx, arrival))
        except BaseException:
            self.admission.release()
            raise
        announcing.add_done_callback(lambda _: self.admission.release())

    async def _authenticate(self, token: str | None) -> AuthContext:
        try:
            return await self.services.accounts.authenticate(token)
        except ChatkitError as exc:
            log.debug("socket refused: %s", exc.message)
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        except Exception as exc:  # else python-socketio answers nothing: the client waits in vain
            if not is_unavailable(exc):
                raise
            log.warning("database unavailable for a socket connect: %s", type(exc).__name__)
            raise socketio.exceptions.ConnectionRefusedError(Sentence.DATABASE_RETRY) from None

    def _transport_open(self, sid: str) -> bool:
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        eio_socket = self.sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        return eio_socket is not None and not eio_socket.closing and not eio_socket.closed

    async def _after_connect(self, ctx: AuthContext, arrival: Arrival) -> None:
        presence = self.services.presence
        await presence.shared()  # other processes see the user online before what waits is delivered
        if not presence.sids_of(str(ctx.user_id)):
            return  # gone already: their next connect delivers what waits for them
        await self.services.presence_feed.connected(ctx.user_id, arrival)
        await self.services.receipts.deliver_pending(ctx.user_id)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.connections.pop(sid, None)
        departure = self.services.presence.disconnect(sid)
        log.debug("socket %s disconnected: user %s (%s)", sid, departure and departure.user_id, reason)
        if departure is not None:
            self.services.presence_feed.disconnected(departure)

    def footprint(self) -> dict[str, int]:
        """Entries per map: all zero once every socket has gone (memory checks and tests)."""
        return {"gateway.connections": len(self.connections), "gateway.tasks": len(self._tasks),
                "gateway.transports": len(self._transports)}

    # --- operator actions (see live_admin) ----------------------------------------

    async def disconnect_user(self, user_id: str, reason: str, *, unless_changed_at: Any = None) -> None:
        """Hang up on the user's sockets here; with ``unless_changed_at``, not on those
        authenticated when the password was already the one changed at that time."""
        for sid in list(self.services.presence.sids_of(user_id)):
            ctx = self.connections.get(sid)
            if (unless_changed_at is not None and ctx is not None
                    and ctx.user.get("passwordChangedAt") == unless_changed_at):
                continue
            await self.kick(sid, reason)

    async def disconnect_session(self, session_id: Any, reason: str) -> None:
        for sid, ctx in list(self.connections.items()):
            if ctx.session_id == session_id:
                await self.kick(sid, reason)

    async def kick(self, sid: str, reason: str) -> None:
        await self.sio.emit(Event.ERROR, {"message": reason}, to=sid)
        await self.sio.disconnect(sid)

    # --- shutdown -----------------------------------------------------------------

    async def drain(self, timeout: float) -> None:
        """Refuse new sockets; keep handling what open sockets already sent until they
        go quiet (or ``timeout``), so a burst in progress is stored, not cut; then hang up."""
        self.draining = True
        await self.services.presence_feed.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            quiet = loop.time() - self._last_event >= DRAIN_QUIET
            if quiet and self._in_flight == 0:
                break
            await asyncio.sleep(0.05)
        else:
            log.warning("sockets still busy after %.0fs; closing anyway", timeout)
        for sid in list(self.connections):
            await self.sio.disconnect(sid)
        # Queue each engine.io socket's CLOSE without waiting for it to be sent: engine.io's
        # own disconnect() waits for every socket's queue to drain, and the queue of a
        # long-poll client that has gone away never does (SIGTERM then hung for good).
        for eio_socket in list(self.sio.eio.sockets.values()):
            await eio_socket.close(wait=False)
        self.sio.eio.sockets.clear()
        await self.sio.shutdown()
        for task in list(self._tasks):
            task.cancel()
        await self._close_transports()

    async def _close_transports(self) -> None:
        """End transports whose client did not hang up, so shutdown never waits on a peer.

        A websocket may be left open by its client, and a long-poll request may be left
        waiting by a client that is gone; both are handler tasks, cancelled after a grace.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANGUP_GRACE
        while self._transports and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._transports.values()):
            task.cancel()

    @web.middleware
    async def track_transports(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Remember open Socket.IO transports (long-lived requests) for ``drain``."""
        task = asyncio.current_task()
        if task is None or not request.path.startswith("/socket.io"):
            response: web.StreamResponse = await handler(request)
            return response
        self._transports[id(task)] = task
        try:
            response = await handler(request)
            return response
        finally:
            self._transports.pop(id(task), None)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background socket task failed", exc_info=task.exception())

    # --- events -------------------------------------------------------------------

    def _register(self, event: str, schema: Schema, handler: Handler) -> None:
        async def dispatch(sid: str, data: Any = None, *extra: Any) -> Ack | AckLater:
            ctx = self.connections.get(sid)
            if ctx is None:
                return await self._refuse(sid, Sentence.NOT_CONNECTED)
            try:
                payload = schema.parse(data, what=f"{event} payload")
            except ChatkitError as exc:
                return await self._refuse(sid, exc.message)
            return await self._answer(sid, event, handler(ctx, sid, payload))

        self.sio.on(event, dispatch)

    async def _answer(self, sid: str, event: str, work: Awaitable[Ack | Queued | None]) -> Ack | AckLater:
        """Run a handler's ``work`` into the ack: ``{success: true, ...}`` or a refusal.

        Work that queued the rest of itself (``Queued``) is answered later, after the
        socket has gone on to its next packet (``AckLater``); it counts as in flight
        until then, so a shutdown waits for it.
        """
        self._in_flight += 1
        try:
            result = await work
            if isinstance(result, Queued):
                return AckLater(self._answer(sid, event, result.rest))
            return {"success": True, **(result or {})}
        except TooManyRequests as exc:  # a rate limit: say when to try again
            return await self._refuse(sid, exc.message, retry_after=exc.retry_after)
        except ChatkitError as exc:
            return await self._refuse(sid, exc.message)
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("socket event %r failed", event)
                return await self._refuse(sid, Sentence.RETRY, retryable=True)
            log.warning("database unavailable for socket event %r: %s", event, type(exc).__name__)
            return await self._refuse(sid, Sentence.DATABASE_RETRY, retryable=True)
        finally:
            self._in_flight -= 1
            self._last_event = asyncio.get_running_loop().time()

    async def _refuse(self, sid: str, message: str, *, retryable: bool = False,
                      retry_after: int | None = None) -> Ack:
        """An ``error`` event for listeners, and the failed ack for an emitter waiting on one.

        ``retryable`` marks failures that say nothing about the request (the database was
        unavailable): the same event, with the same ``clientId``, may be sent again.
        ``retry_after``: a rate limit's seconds to wait, as ``retryAfter``.
        """
        body: Ack = {"message": self._translated(sid, message), **({"retryable": True} if retryable else {})}
        if retry_after is not None:
            body["retryAfter"] = retry_after
        await self.sio.emit(Event.ERROR, body, to=sid)
        return {"success": False, **body}

    def _translated(self, sid: str, message: str) -> str:
        """``message`` in the socket's language: its handshake's ``lang`` header, else the
        user's stored choice (as it was when the socket connected), else English."""
        ctx = self.connections.get(sid)
        environ = self.sio.get_environ(sid) or {}
        return translate(message, pick(environ.get("HTTP_LANG"), ctx.user.get("lang") if ctx else None))

    async def _unknown_event(self, event: str, sid: str, *data: Any) -> Ack:
        """An event this server has no handler for: say so, rather than leave an ack hanging."""
        return await self._refuse(sid, f"Unknown event: {str(event)[:64]}")

    async def _new_message(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> Queued:
        """Checked and queued now; stored and announced while the socket reads on (in order)."""
        await self.services.limits.message(ctx.user_id)  # first: a flood is refused before any database work
        chat_id = parse_id(p["chatId"], "chatId") if "chatId" in p else None
        other_id = parse_id(p["otherUserId"], "otherUserId") if "otherUserId" in p else None
        sending = await self.services.sending.send_message(
            ctx.user_id, p["content"], chat_id=chat_id, other_user_id=other_id,
            type=p.get("type", "text"), client_id=p.get("clientId"),
        )
        return Queued(_sent(sending))

    async def _typing(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> None:
        self.services.limits.typing(sid)
        await self.services.typing.typing(ctx.user, parse_id(p["chatId"], "chatId"), stopped=False)

    async def _stop_typing(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> None:
        self.services.limits.typing(sid)
        await self.services.typing.typing(ctx.user, parse_id(p["chatId"], "chatId"), stopped=True)

    async def _join_chat(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> None:
        self.services.limits.socket_action(sid)
        await self.services.receipts.join_chat(ctx.user_id, sid, parse_id(p["chatId"], "chatId"))

    async def _leave_chat(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> None:
        self.services.limits.socket_action(sid)
        self.services.receipts.leave_chat(sid, parse_id(p["chatId"], "chatId"))

    async def _message_delivered(self, ctx: AuthContext, sid: str, p: dict[str, Any]) -> None:
        self.services.limits.socket_action(sid)
        await self.services.receipts.mark_delivered(ctx.user_id, parse_id(p["messageId"], "messageId"))
