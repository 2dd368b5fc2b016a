"""Every query on the ``messages`` collection.

Messages carry a ``receiver`` (the other participant) besides the contract's fields,
so "my undelivered / unread incoming messages" are index lookups rather than joins.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chatkit.storage.documents import MessageDoc, PendingDelivery, Query


class DuplicateClientId(Exception):
    """This sender already stored a message with this ``clientId`` (a retry)."""


DUPLICATE_KEY = 11000


class MessageStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("chat", ASCENDING), ("createdAt", DESCENDING)], name="chat_time"),
        IndexModel([("receiver", ASCENDING), ("chat", ASCENDING), ("createdAt", ASCENDING)],
                   name="undelivered", partialFilterExpression={"isDelivered": False}),
        IndexModel([("receiver", ASCENDING), ("chat", ASCENDING), ("createdAt", ASCENDING)],
                   name="unread", partialFilterExpression={"isRead": False}),
        IndexModel([("sender", ASCENDING), ("clientId", ASCENDING)], unique=True, name="client_id",
                   partialFilterExpression={"clientId": {"$type": "string"}}),
        IndexModel([("media", ASCENDING)], name="media", sparse=True),
    ]

    def __init__(self, collection: AsyncCollection[MessageDoc]) -> None:
        self.col = collection

    async def insert(self, doc: MessageDoc) -> MessageDoc:
        try:
            result = await self.col.insert_one(doc)
        except DuplicateKeyError:
            raise DuplicateClientId() from None
        doc["_id"] = result.inserted_id
        return doc

    async def insert_many(self, docs: list[MessageDoc]) -> None:
        """Insert in order; each doc carries its ``_id`` already, so a failure can be undone."""
        await self.col.insert_many(docs, ordered=True)

    async def insert_batch(self, docs: list[MessageDoc]) -> dict[int, int]:
        """Insert ``docs`` in order, one round trip when nothing is refused.

        A refused document fails alone: the ones after it are still inserted (in order).
        Returns the positions refused, with MongoDB's error code (``DUPLICATE_KEY`` for a
        ``clientId`` this sender already used). An error about the write as a whole
        (unreachable server, write concern) is raised.
        """
        refused: dict[int, int] = {}
        start = 0
        while start < len(docs):
            try:
                await self.col.insert_many(docs[start:], ordered=True)
                break
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or []
                if not errors or exc.details.get("writeConcernErrors"):
                    raise
                failed = start + int(errors[0]["index"])
                refused[failed] = int(errors[0].get("code", 0))
                start = failed + 1
        return refused

    async def by_client_ids(self, keys: list[tuple[ObjectId, str]]) -> dict[tuple[ObjectId, str], MessageDoc]:
        """The messages already stored under these (sender, ``clientId``) pairs, in one read."""
        query: Query = {"$or": [{"sender": sender, "clientId": client_id} for sender, client_id in keys]}
        return {(m["sender"], m["clientId"]): m async for m in self.col.find(query)}

    async def delete_ids(self, message_ids: list[ObjectId]) -> None:
        await self.col.delete_many({"_id": {"$in": message_ids}})

    async def by_id(self, message_id: ObjectId) -> MessageDoc | None:
        return await self.col.find_one({"_id": message_id})

    async def by_client_id(self, sender: ObjectId, client_id: str) -> MessageDoc | None:
        return await self.col.find_one({"sender": sender, "clientId": client_id})

    async def latest_undelivered_per_chat(self, receiver: ObjectId) -> list[PendingDelivery]:
        """For each chat: the newest message not yet delivered to ``receiver``."""
        pipeline: list[Query] = [
            {"$match": {"receiver": receiver, "isDelivered": False}},
            {"$sort": {"chat": 1, "createdAt": 1}},
            {"$group": {"_id": "$chat", "messageId": {"$last": "$_id"}, "sender": {"$last": "$sender"},
                        "createdAt": {"$last": "$createdAt"}}},
        ]
        groups: list[Any] = await (await self.col.aggregate(pipeline)).to_list(None)
        return [PendingDelivery(g["_id"], g["messageId"], g["sender"], g["createdAt"]) for g in groups]

    async def mark_delivered(
        self, receiver: ObjectId, *, chat: ObjectId | None = None, up_to: datetime | None = None
    ) -> int:
        query: Query = {"receiver": receiver, "isDelivered": False}
        if chat is not None:
            query["chat"] = chat
        if up_to is not None:
            query["createdAt"] = {"$lte": up_to}
        result = await self.col.update_many(query, {"$set": {"isDelivered": True}})
        return result.modified_count

    async def mark_read(self, receiver: ObjectId, chat: ObjectId, up_to: datetime | None = None) -> int:
        query: Query = {"receiver": receiver, "chat": chat, "isRead": False}
        if up_to is not None:
            query["createdAt"] = {"$lte": up_to}
        result = await self.col.update_many(query, {"$set": {"isRead": True, "isDelivered": True}})
        return result.modified_count

    async def latest(self, chat: ObjectId, after: datetime | None, n: int) -> list[MessageDoc]:
        if n <= 0:
            return []
        query: Query = {"chat": chat}
        if after is not None:
            query["createdAt"] = {"$gt": after}
        cursor = self.col.find(query).sort([("createdAt", -1), ("_id", -1)]).limit(n)
        return await cursor.to_list(None)

    async def page(
        self, chat: ObjectId, *, after: datetime | None, search: str | None,
        start: datetime | None, end: datetime | None, skip: int, limit: int,
    ) -> tuple[list[MessageDoc], int]:
        created: Query = {}
        if after is not None:
            created["$gt"] = after
        if start is not None:
            created["$gte"] = start
        if end is not None:
            created["$lte"] = end
        query: Query = {"chat": chat}
        if created:
            query["createdAt"] = created
        if search:
            query["content"] = re.compile(re.escape(search), re.IGNORECASE)
        total = await self.col.count_documents(query)
        cursor = self.col.find(query).sort([("createdAt", -1), ("_id", -1)]).skip(skip).limit(limit)
        return await cursor.to_list(None), total

    async def any_after(self, chat: ObjectId, after: datetime) -> bool:
        return await self.col.find_one({"chat": chat, "createdAt": {"$gt": after}}, {"_id": 1}) is not None

    async def delete_in_chat(self, chat: ObjectId, up_to: datetime | None = None) -> int:
        query: Query = {"chat": chat}
        if up_to is not None:
            query["createdAt"] = {"$lte": up_to}
        return (await self.col.delete_many(query)).deleted_count
