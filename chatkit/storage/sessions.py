"""Every query on the ``sessions`` collection: one document per logged-in device.

A session is found by the SHA-256 of its token, so the database never holds a usable
token. Expired sessions are removed by a TTL index.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from chatkit.storage.documents import Query, SessionDoc
from chatkit.wire import now


class SessionStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("tokenHash", ASCENDING)], unique=True, name="token_hash_unique"),
        IndexModel([("userId", ASCENDING), ("revokedAt", ASCENDING)], name="by_user"),
        IndexModel([("notificationToken", ASCENDING)], sparse=True, name="push_token"),
        IndexModel([("expiresAt", ASCENDING)], expireAfterSeconds=0, name="expire"),
    ]

    def __init__(self, collection: AsyncCollection[SessionDoc]) -> None:
        self.col = collection

    async def create(
        self, user_id: ObjectId, token_hash: str, expires_at: datetime, notification_token: str | None,
        *, created_at: datetime | None = None, password_reset_until: datetime | None = None,
    ) -> SessionDoc:
        """``password_reset_until``: the session came from an emailed code and may set a new
        password without the old one until then."""
        doc: SessionDoc = {
            "userId": user_id,
            "tokenHash": token_hash,
            "createdAt": created_at or now(),
            "expiresAt": expires_at,
            "revokedAt": None,
        }
        if notification_token:
            doc["notificationToken"] = notification_token
        if password_reset_until is not None:
            doc["passwordResetUntil"] = password_reset_until
        try:
            result = await self.col.insert_one(doc)
        except DuplicateKeyError:  # the same token adopted twice at once: one session
            existing = await self.by_token_hash(token_hash)
            if existing is None:
                raise
            return existing
        doc["_id"] = result.inserted_id
        if notification_token:
            await self.release_notification_token(notification_token, keep=doc["_id"])
        return doc

    async def by_token_hash(self, token_hash: str) -> SessionDoc | None:
        return await self.col.find_one({"tokenHash": token_hash})

    async def release_notification_token(self, token: str, keep: ObjectId | None = None) -> None:
        """A device token belongs to one session: the newest login on that device."""
        query: Query = {"notificationToken": token}
        if keep is not None:
            query["_id"] = {"$ne": keep}
        await self.col.update_many(query, {"$unset": {"notificationToken": ""}})

    async def revoke(self, session_id: ObjectId) -> None:
        await self.col.update_one(
            {"_id": session_id, "revokedAt": None},
            {"$set": {"revokedAt": now()}, "$unset": {"notificationToken": ""}},
        )

    async def revoke_all(self, user_id: ObjectId) -> int:
        result = await self.col.update_many(
            {"userId": user_id, "revokedAt": None},
            {"$set": {"revokedAt": now()}, "$unset": {"notificationToken": ""}},
        )
        return result.modified_count

    async def live_ids(self, session_ids: list[ObjectId]) -> set[ObjectId]:
        """Which of these sessions still exist and are not revoked."""
        cursor = self.col.find({"_id": {"$in": session_ids}, "revokedAt": None}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}

    async def active_for_user(self, user_id: ObjectId) -> list[SessionDoc]:
        cursor = self.col.find(
            {"userId": user_id, "revokedAt": None, "expiresAt": {"$gt": now()}}
        ).sort("createdAt", -1)
        return await cursor.to_list(None)

    async def push_tokens(self, user_id: ObjectId) -> list[str]:
        cursor = self.col.find(
            {"userId": user_id, "revokedAt": None, "notificationToken": {"$exists": True}},
            {"notificationToken": 1},
        )
        return [doc["notificationToken"] async for doc in cursor]

    async def drop_push_tokens(self, tokens: list[str]) -> int:
        """Forget device tokens the push service reported dead; the sessions stay logged in."""
        if not tokens:
            return 0
        result = await self.col.update_many({"notificationToken": {"$in": tokens}},
                                            {"$unset": {"notificationToken": ""}})
        return result.modified_count
