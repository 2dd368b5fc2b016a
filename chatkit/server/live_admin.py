"""Make changes made elsewhere reach open sockets, whoever made them.

The send path's cache (``domain.chat_cache``) is kept true from the same stream: a
changed user is dropped from it, and nothing is held while the stream is not followed.

A ban, deactivation, password change or log-out may come from this server's REST API
or from ``chatkit admin`` talking straight to the database, and the admin CLI's
real-time events (a block's ``Label`` line) arrive as relays. Either way it is in
MongoDB, so the server follows the database (``storage.changes``) where the deployment
supports change streams (a replica set), else polls the connected users' accounts and
sessions, and the relays, every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bson import ObjectId
from pymongo.errors import PyMongoError

from chatkit.domain.accounts import standing_problem
from chatkit.domain.controls import apply_control
from chatkit.protocol import Sentence
from chatkit.server.sockets import SocketGateway
from chatkit.services import Services
from chatkit.storage.changes import (
    AccountChanged,
    Change,
    ChangeStreamsUnsupported,
    Following,
    Relayed,
    SessionEnded,
)
from chatkit.storage.documents import RelayDoc
from chatkit.storage.users import STANDING_FIELDS

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0
RESTART_DELAY = 0.5


class LiveAdmin:
    def __init__(self, services: Services, gateway: SocketGateway) -> None:
        self.services = services
        self.gateway = gateway
        self._task: asyncio.Task[None] | None = None
        self._last_relay: ObjectId | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chatkit-live-admin")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async for change in self.services.storage.changes.follow():
                    await self._on_change(change)
            except ChangeStreamsUnsupported:
                self.services.chat_cache.following(False)
                log.warning("MongoDB has no change streams (not a replica set): polling sessions instead")
                await self._poll_forever()
                return
            except asyncio.CancelledError:
                self.services.chat_cache.following(False)
                raise
            except Exception:
                self.services.chat_cache.following(False)
                log.exception("live admin watcher failed; restarting")
            await asyncio.sleep(RESTART_DELAY)

    async def _on_change(self, change: Change) -> None:
        if isinstance(change, Following):
            self.services.chat_cache.following(change.live)
        elif isinstance(change, Relayed):
            await self._relay(change.relay)
        elif isinstance(change, SessionEnded):
            await self.gateway.disconnect_session(change.session_id, Sentence.SESSION_ENDED)
        elif isinstance(change, AccountChanged):
            self.services.chat_cache.forget_user(change.user_id)  # a ban or block is seen by the next send
            if not self.services.presence.is_online(str(change.user_id)):
                return
            reason = standing_problem(change.user)
            if reason is not None:
                await self.gateway.disconnect_user(str(change.user_id), reason)
            elif change.password_changed and change.user is not None:
                # Only sockets authenticated before the change: one the app opened with
                # the new password's session (it may connect before this event arrives)
                # stays.
                await self.gateway.disconnect_user(str(change.user_id), Sentence.PASSWORD_CHANGED,
                                                   unless_changed_at=change.user.get("passwordChangedAt"))

    async def _relay(self, relay: RelayDoc) -> None:
        """An event another process (the admin CLI) wrote for this server's sockets, or an
        order for this server itself (``domain.controls``)."""
        if await apply_control(relay, self.services.accounts):
            return
        to = relay.get("to")
        # every process follows the relays: each emits to its own sockets only
        await self.gateway.sio.emit(relay["event"], relay["payload"], room=str(to) if to else None,
                                    ignore_queue=True)

    # --- standalone MongoDB -------------------------------------------------------

    async def _poll_forever(self) -> None:
        self._last_relay = await self.services.storage.relays.newest_id()
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self._poll_once()
            except PyMongoError as exc:
                log.warning("session poll failed: %s", exc.__class__.__name__)

    async def _poll_once(self) -> None:
        storage = self.services.storage
        for relay in await storage.relays.after(self._last_relay):
            self._last_relay = relay["_id"]
            await self._relay(relay)
        conns = dict(self.gateway.connections)
        if not conns:
            return
        users = await storage.users.by_ids(list({c.user_id for c in conns.values()}), STANDING_FIELDS)
        live_sessions = await storage.sessions.live_ids([c.session_id for c in conns.values()])
        for sid, ctx in conns.items():
            user = users.get(ctx.user_id)
            reason = standing_problem(user)
            if reason is None and ctx.session_id not in live_sessions:
                reason = Sentence.SESSION_ENDED
            if reason is None and user and user.get("passwordChangedAt") != ctx.user.get("passwordChangedAt"):
                reason = Sentence.PASSWORD_CHANGED
            if reason is not None:
                await self.gateway.kick(sid, reason)
