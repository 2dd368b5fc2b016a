"""The ``pushes`` collection: the durable queue of push notifications, and their record.

A notification is written here before any attempt to send it, so it survives a crash,
a restart or a Firebase outage; senders take it with an atomic claim that lapses after a
lease, so a sender that dies mid-send leaves it to be claimed again. A deployment
without Firebase still shows here what would have been sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Final

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel

from chatkit.storage.documents import PushDoc, Query
from chatkit.storage.leases import QUEUED as QUEUED
from chatkit.storage.leases import SENDING as SENDING
from chatkit.storage.leases import LeasedQueue

SENT: Final = "sent"  # at least one device got it
FAILED: Final = "failed"  # given up; ``reason`` says why
RECORDED: Final = "recorded"  # no Firebase configured: kept as a record, never sent
LEGACY_RECORDED: Final = "outbox"  # what chatkit wrote before it could send
STATUSES: Final = (QUEUED, SENDING, SENT, FAILED, RECORDED)


class PushStore(LeasedQueue[PushDoc]):
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("status", ASCENDING), ("createdAt", ASCENDING)], name="by_status"),
        IndexModel([("userId", ASCENDING), ("createdAt", DESCENDING)], name="by_user"),
        IndexModel([("status", ASCENDING), ("dueAt", ASCENDING)], name="due"),
        IndexModel([("userId", ASCENDING), ("chatId", ASCENDING), ("createdAt", DESCENDING)], name="by_user_chat"),
        # At most one not-yet-tried push per recipient and chat: later messages merge into it.
        IndexModel([("userId", ASCENDING), ("chatId", ASCENDING)], unique=True, name="one_fresh_per_chat",
                   partialFilterExpression={"status": QUEUED, "attempts": 0}),
    ]

    async def insert(self, doc: PushDoc) -> PushDoc:
        """Raises ``DuplicateKeyError`` if a fresh queued push of the same chat appeared meanwhile."""
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc

    async def merge_into_fresh(self, user_id: ObjectId, chat_id: ObjectId, fields: Query,
                               message_at: datetime) -> bool:
        """Fold one more message into the chat's not-yet-tried push, if there is one.

        ``fields`` (the text and devices) replace the push's only if this message is newer
        than the one it shows (``messageAt``); the count grows either way.
        """
        newer = {"$gt": [message_at, {"$ifNull": ["$messageAt", datetime.min]}]}
        result = await self.col.update_one(
            {"userId": user_id, "chatId": chat_id, "status": QUEUED, "attempts": 0},
            [{"$set": {
                **{name: {"$cond": [newer, {"$literal": value}, f"${name}"]} for name, value in fields.items()},
                "messageAt": {"$max": ["$messageAt", message_at]},
                "count": {"$add": ["$count", 1]},
            }}],
        )
        return result.matched_count > 0

    async def last_attempt_at(self, user_id: ObjectId, chat_id: ObjectId) -> datetime | None:
        """When a push of this chat to this user was last handed to a sender."""
        doc = await self.col.find_one(
            {"userId": user_id, "chatId": chat_id, "lastAttemptAt": {"$ne": None}},
            {"lastAttemptAt": 1}, sort=[("createdAt", DESCENDING)],
        )
        return doc.get("lastAttemptAt") if doc else None

    async def settle(self, push: PushDoc, fields: Query, counts: dict[str, int]) -> bool:
        """Record an attempt's outcome, if this attempt still holds the claim."""
        update: dict[str, Any] = {"$set": fields}
        if counts:
            update["$inc"] = counts
        result = await self.col.update_one({"_id": push["_id"], "claim": push["claim"], "status": SENDING}, update)
        return result.matched_count > 0

    async def listing(self, user_id: ObjectId | None, statuses: list[str] | None,
                      limit: int) -> tuple[list[PushDoc], int]:
        """Newest first, with how many match in all; never the device tokens themselves
        (``tokenCount`` stands in for them, also for documents older than that field)."""
        match: Query = {}
        if user_id is not None:
            match["userId"] = user_id
        if statuses is not None:
            match["status"] = {"$in": statuses}
        pipeline: list[Query] = [
            {"$match": match}, {"$sort": {"createdAt": -1, "_id": -1}}, {"$limit": limit},
            {"$set": {"tokenCount": {"$ifNull": ["$tokenCount", {"$size": {"$ifNull": ["$tokens", []]}}]}}},
            {"$unset": "tokens"},
        ]
        cursor = await self.col.aggregate(pipeline)
        docs = await cursor.to_list(None)
        total = await self.col.count_documents(match)
        return docs, total
