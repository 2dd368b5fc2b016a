"""Make account changes reach open sockets, whoever made them.

A ban, deactivation, password change or log-out may come from this server's REST API
or from ``chatkit admin`` talking straight to the database. Either way the change is
in MongoDB, so the server follows the database: a change stream on ``users``,
``sessions`` and ``messages`` where the deployment supports one (a replica set), else
a poll of the connected users' accounts and sessions every second.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bson import ObjectId
from pymongo.errors import OperationFailure, PyMongoError

from chatkit.domain.accounts import PASSWORD_CHANGED, SESSION_ENDED, standing_problem
from chatkit.server.context import Services
from chatkit.server.sockets import SocketGateway

log = logging.getLogger(__name__)
Doc = dict[str, Any]

POLL_INTERVAL = 1.0
_WATCHED = ["users", "sessions", "messages"]
_PIPELINE = [{"$match": {"ns.coll": {"$in": _WATCHED}, "$or": [
    {"operationType": {"$in": ["update", "replace", "delete"]}, "ns.coll": {"$in": ["users", "sessions"]}},
    {"operationType": "insert", "ns.coll": "messages", "fullDocument.relay": True},
]}}]


class LiveAdmin:
    def __init__(self, services: Services, gateway: SocketGateway) -> None:
        self.services = services
        self.gateway = gateway
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chatkit-live-admin")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        resume: Doc | None = None
        while True:
            try:
                async with await self.services.storage.db.watch(
                    _PIPELINE, resume_after=resume, full_document="updateLookup"
                ) as stream:
                    async for change in stream:
                        resume = stream.resume_token
                        await self._on_change(change)
            except OperationFailure as exc:
                if exc.code in (40573, 136):  # not a replica set / change streams disabled
                    log.warning("MongoDB has no change streams (not a replica set): polling sessions instead")
                    await self._poll_forever()
                    return
                log.warning("change stream failed (%s); restarting", exc)
                resume = None
            except PyMongoError as exc:
                log.warning("change stream interrupted (%s); resuming", exc.__class__.__name__)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live admin watcher failed; restarting")
            await asyncio.sleep(0.5)

    async def _on_change(self, change: Doc) -> None:
        coll = change["ns"]["coll"]
        op = change["operationType"]
        doc_id = change.get("documentKey", {}).get("_id")
        if coll == "messages":
            await self._relay_label(change["fullDocument"])
        elif coll == "sessions":
            full = change.get("fullDocument")
            if op == "delete" or (full and full.get("revokedAt") is not None):
                await self.gateway.disconnect_session(doc_id, SESSION_ENDED)
        elif coll == "users":
            await self._check_user(doc_id, change.get("fullDocument"), change.get("updateDescription"))

    async def _check_user(self, user_id: ObjectId, user: Doc | None, update: Doc | None) -> None:
        if not self.services.presence.is_online(str(user_id)):
            return
        reason = standing_problem(user)
        if reason is None and update and "passwordChangedAt" in update.get("updatedFields", {}):
            reason = PASSWORD_CHANGED
        if reason is not None:
            await self.gateway.disconnect_user(str(user_id), reason)

    async def _relay_label(self, msg: Doc) -> None:
        """A block written by the admin CLI: show its Label line to both users."""
        await self.services.messaging.announce_label(msg)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                await self._poll_once()
            except PyMongoError as exc:
                log.warning("session poll failed: %s", exc.__class__.__name__)

    async def _poll_once(self) -> None:
        conns = dict(self.gateway.connections)
        if not conns:
            return
        storage = self.services.storage
        user_ids = list({c.user_id for c in conns.values()})
        users = await storage.users.by_ids(user_ids, {"isActive": 1, "isBlocked": 1, "passwordChangedAt": 1})
        live_sessions = await storage.sessions.live_ids([c.session_id for c in conns.values()])
        for sid, conn in conns.items():
            user = users.get(conn.user_id)
            reason = standing_problem(user)
            if reason is None and conn.session_id not in live_sessions:
                reason = SESSION_ENDED
            if reason is None and user and user.get("passwordChangedAt") != conn.user.get("passwordChangedAt"):
                reason = PASSWORD_CHANGED
            if reason is not None:
                await self.gateway.kick(sid, reason)
