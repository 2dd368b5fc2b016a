"""Socket.IO transport: authenticate sockets, validate payloads, call ``Messaging``.

Handlers run with ``async_handlers=False``: python-socketio then awaits each event in
the socket's own read loop, so one socket's events are handled one at a time in the
order sent (a sender's messages are stored and delivered in order), while different
sockets still run concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import socketio
from aiohttp import web
from bson import ObjectId

from chatkit.domain.errors import ChatkitError
from chatkit.domain.messaging import parse_id
from chatkit.server.context import Services
from chatkit.server.payloads import Schema
from chatkit.wire import jsonable

log = logging.getLogger(__name__)

Doc = dict[str, Any]
ONLINE_USERS_DELAY = 0.05  # seconds over which presence changes are coalesced
DRAIN_QUIET = 0.2  # on shutdown, a socket silent this long has nothing more in flight
HANGUP_GRACE = 0.5  # then clients get this long to close their transports themselves

NEW_MESSAGE = Schema(
    required={"content": str},
    optional={"chatId": str, "otherUserId": str, "type": str, "clientId": str},
)
CHAT_ONLY = Schema(required={"chatId": str})
MESSAGE_ONLY = Schema(required={"messageId": str})


@dataclass
class Connection:
    user: Doc
    session_id: ObjectId

    @property
    def user_id(self) -> ObjectId:
        return self.user["_id"]


Handler = Callable[[Connection, str, Doc], Awaitable[Doc | None]]


class SocketGateway:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp", async_handlers=False, cors_allowed_origins="*",
            logger=False, engineio_logger=False,
        )
        self.connections: dict[str, Connection] = {}
        self.draining = False
        self._in_flight = 0
        self._last_event = 0.0
        self._broadcast_pending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._transports: dict[int, asyncio.Task[Any]] = {}
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self._register("new-message", NEW_MESSAGE, self._new_message)
        self._register("typing", CHAT_ONLY, self._typing)
        self._register("stop-typing", CHAT_ONLY, self._stop_typing)
        self._register("join-chat", CHAT_ONLY, self._join_chat)
        self._register("leave-chat", CHAT_ONLY, self._leave_chat)
        self._register("message-delivered", MESSAGE_ONLY, self._message_delivered)
        self.sio.on("*", self._unknown_event)

    # --- what the domain uses -----------------------------------------------------

    async def emit_to_user(self, user_id: str, event: str, payload: Doc) -> None:
        await self.sio.emit(event, jsonable(payload), room=user_id)

    # --- connection life ----------------------------------------------------------

    async def _connect(self, sid: str, environ: Doc, auth: Any = None) -> None:
        if self.draining:
            raise socketio.exceptions.ConnectionRefusedError("Server is shutting down")
        token = environ.get("HTTP_AUTHORIZATION")
        if not token and isinstance(auth, dict) and isinstance(auth.get("token"), str):
            token = auth["token"]
        try:
            ctx = await self.services.accounts.authenticate(token)
        except ChatkitError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None
        user_key = str(ctx.user_id)
        self.connections[sid] = Connection(ctx.user, ctx.session["_id"])
        await self.sio.enter_room(sid, user_key)
        came_online = self.services.presence.connect(sid, user_key)
        self._spawn(self._after_connect(sid, ctx.user_id, came_online))

    async def _after_connect(self, sid: str, user_id: ObjectId, came_online: bool) -> None:
        if came_online:
            self._schedule_online_users()
        else:
            await self.sio.emit("online-users", self.services.presence.online_users(), to=sid)
        await self.services.messaging.deliver_pending(user_id)

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.connections.pop(sid, None)
        _, went_offline = self.services.presence.disconnect(sid)
        if went_offline:
            self._schedule_online_users()

    def _schedule_online_users(self) -> None:
        """Coalesce presence changes: N connects at once cause one broadcast, not N."""
        if self._broadcast_pending or self.draining:
            return
        self._broadcast_pending = True
        self._spawn(self._broadcast_online_users())

    async def _broadcast_online_users(self) -> None:
        await asyncio.sleep(ONLINE_USERS_DELAY)
        self._broadcast_pending = False
        await self.sio.emit("online-users", self.services.presence.online_users())

    async def disconnect_user(self, user_id: str, reason: str) -> None:
        for sid in self.services.presence.sids_of(user_id):
            await self.kick(sid, reason)

    async def disconnect_session(self, session_id: ObjectId, reason: str) -> None:
        for sid, conn in list(self.connections.items()):
            if conn.session_id == session_id:
                await self.kick(sid, reason)

    async def kick(self, sid: str, reason: str) -> None:
        await self.sio.emit("error", {"message": reason}, to=sid)
        await self.sio.disconnect(sid)

    async def drain(self, timeout: float) -> None:
        """Refuse new sockets; keep handling what open sockets already sent until they
        go quiet (or ``timeout``), so a burst in progress is stored, not cut; then hang up."""
        self.draining = True
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
        if self.sio.eio.sockets:
            await self.sio.eio.disconnect()
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
            return await handler(request)
        self._transports[id(task)] = task
        try:
            return await handler(request)
        finally:
            self._transports.pop(id(task), None)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background socket task failed", exc_info=task.exception())

    # --- events -------------------------------------------------------------------

    def _register(self, event: str, schema: Schema, handler: Handler) -> None:
        async def dispatch(sid: str, data: Any = None, *extra: Any) -> Doc:
            conn = self.connections.get(sid)
            try:
                if conn is None:
                    raise ChatkitError("Not connected")
                payload = schema.parse(data, what=f"{event} payload")
                self._in_flight += 1
                try:
                    result = await handler(conn, sid, payload)
                finally:
                    self._in_flight -= 1
                    self._last_event = asyncio.get_running_loop().time()
                return {"success": True, **(result or {})}
            except ChatkitError as exc:
                message = exc.message
            except Exception:
                log.exception("socket event %r failed", event)
                message = "Something went wrong, please retry"
            return await self._refuse(sid, message)

        self.sio.on(event, dispatch)

    async def _refuse(self, sid: str, message: str) -> Doc:
        """An ``error`` event for listeners, and the failed ack for an emitter waiting on one."""
        await self.sio.emit("error", {"message": message}, to=sid)
        return {"success": False, "message": message}

    async def _unknown_event(self, event: str, sid: str, *data: Any) -> Doc:
        """An event this server has no handler for: say so, rather than leave an ack hanging."""
        return await self._refuse(sid, f"Unknown event: {str(event)[:64]}")

    async def _new_message(self, conn: Connection, sid: str, p: Doc) -> Doc:
        chat_id = parse_id(p["chatId"], "chatId") if "chatId" in p else None
        other_id = parse_id(p["otherUserId"], "otherUserId") if "otherUserId" in p else None
        result = await self.services.messaging.send_message(
            conn.user_id, p["content"], chat_id=chat_id, other_user_id=other_id,
            type=p.get("type", "text"), client_id=p.get("clientId"),
        )
        return {"message": result.message}  # message_view is already plain JSON

    async def _typing(self, conn: Connection, sid: str, p: Doc) -> None:
        await self.services.messaging.typing(conn.user, parse_id(p["chatId"], "chatId"), stopped=False)

    async def _stop_typing(self, conn: Connection, sid: str, p: Doc) -> None:
        await self.services.messaging.typing(conn.user, parse_id(p["chatId"], "chatId"), stopped=True)

    async def _join_chat(self, conn: Connection, sid: str, p: Doc) -> None:
        await self.services.messaging.join_chat(conn.user_id, sid, parse_id(p["chatId"], "chatId"))

    async def _leave_chat(self, conn: Connection, sid: str, p: Doc) -> None:
        await self.services.messaging.leave_chat(sid, parse_id(p["chatId"], "chatId"))

    async def _message_delivered(self, conn: Connection, sid: str, p: Doc) -> None:
        await self.services.messaging.mark_delivered(conn.user_id, parse_id(p["messageId"], "messageId"))
