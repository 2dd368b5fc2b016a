"""Every query on the ``chats`` collection.

One chat per unordered pair is guaranteed by a unique index on ``pairKey`` (the two
ids, sorted), so two first messages racing each other cannot create two chats.
``lastMessageAt`` is kept on the chat so listings sort and filter without scanning
messages, and so a send learns atomically whether it is the first visible message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]
EPOCH = datetime(1970, 1, 1)


def pair_key(a: ObjectId, b: ObjectId) -> str:
    return ":".join(sorted((str(a), str(b))))


def other_participant(chat: Doc, user_id: ObjectId) -> ObjectId:
    return next(p for p in chat["participants"] if p != user_id)


class ChatStore:
    INDEXES = [
        IndexModel([("pairKey", ASCENDING)], unique=True, name="pair_unique",
                   partialFilterExpression={"pairKey": {"$type": "string"}}),
        IndexModel([("participants", ASCENDING), ("lastMessageAt", DESCENDING)], name="by_participant"),
    ]

    def __init__(self, collection: AsyncCollection) -> None:
        self.col = collection

    async def by_id(self, chat_id: ObjectId) -> Doc | None:
        return await self.col.find_one({"_id": chat_id})

    async def with_participants(self, chat_id: ObjectId, projection: Doc) -> Doc | None:
        """The chat with its participants' user documents as ``people``, in one round trip."""
        pipeline = [
            {"$match": {"_id": chat_id}},
            {"$lookup": {"from": "users", "localField": "participants", "foreignField": "_id",
                         "as": "people", "pipeline": [{"$project": projection}]}},
        ]
        found = await (await self.col.aggregate(pipeline)).to_list(1)
        return found[0] if found else None

    async def between(self, a: ObjectId, b: ObjectId) -> Doc | None:
        return await self.col.find_one({"pairKey": pair_key(a, b)})

    async def find_or_create(self, a: ObjectId, b: ObjectId, at: datetime) -> Doc:
        key = pair_key(a, b)
        existing = await self.col.find_one({"pairKey": key})  # the usual case: a read, no write
        if existing is not None:
            return existing
        insert = {"participants": [a, b], "pairKey": key, "clearedBy": None, "clearedAt": None,
                  "createdAt": at, "updatedAt": at}
        for _ in range(3):
            try:
                return await self.col.find_one_and_update(
                    {"pairKey": key}, {"$setOnInsert": insert}, upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:  # a concurrent upsert won; read its chat
                found = await self.col.find_one({"pairKey": key})
                if found is not None:
                    return found
        raise RuntimeError("could not create chat")

    async def record_message(self, chat_id: ObjectId, at: datetime) -> Doc | None:
        """Advance ``lastMessageAt``; returns the chat as it was *before*, atomically."""
        return await self.col.find_one_and_update(
            {"_id": chat_id},
            {"$max": {"lastMessageAt": at}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.BEFORE,
        )

    async def set_cleared(self, chat: Doc, user_id: ObjectId, at: datetime) -> bool:
        """Set the clear marker if the chat is still as read (compare-and-set)."""
        result = await self.col.update_one(
            {"_id": chat["_id"], "clearedBy": chat.get("clearedBy"), "clearedAt": chat.get("clearedAt")},
            {"$set": {"clearedBy": user_id, "clearedAt": at, "updatedAt": at}},
        )
        return result.modified_count == 1

    async def delete(self, chat_id: ObjectId) -> bool:
        return (await self.col.delete_one({"_id": chat_id})).deleted_count == 1

    async def of_user(self, user_id: ObjectId, skip: int, limit: int) -> tuple[list[Doc], int]:
        query = {"participants": user_id}
        total = await self.col.count_documents(query)
        docs = await self.col.find(query).sort("lastMessageAt", -1).skip(skip).limit(limit).to_list(None)
        return docs, total

    async def page_all(self, skip: int, limit: int) -> tuple[list[Doc], int]:
        total = await self.col.estimated_document_count()
        docs = await self.col.find({}).sort("_id", -1).skip(skip).limit(limit).to_list(None)
        return docs, total

    async def listing(
        self, user_id: ObjectId, *, search: str | None, skip: int, limit: int, last_messages: int
    ) -> tuple[list[Doc], int]:
        """One page of the user's visible chats, newest activity first, in one round trip.

        Each chat comes with ``other`` (the other user's profile), ``messages`` (the last
        N visible to the user, newest first) and ``unread`` (all unread incoming ones).
        """
        cutoff = {"$cond": [{"$eq": ["$clearedBy", user_id]}, "$clearedAt", EPOCH]}
        pipeline: list[Doc] = [
            {"$match": {"participants": user_id, "lastMessageAt": {"$ne": None}}},
            {"$addFields": {
                "cutoff": {"$ifNull": [cutoff, EPOCH]},
                "otherId": {"$first": {"$filter": {"input": "$participants", "cond": {"$ne": ["$$this", user_id]}}}},
            }},
            {"$match": {"$expr": {"$gt": ["$lastMessageAt", "$cutoff"]}}},
            {"$lookup": {"from": "users", "localField": "otherId", "foreignField": "_id", "as": "other",
                         "pipeline": [{"$project": {"firstName": 1, "lastName": 1, "profilePicture": 1,
                                                    "isActive": 1, "isBlocked": 1, "blockedUsers": 1}}]}},
            {"$unwind": "$other"},
            {"$match": {"other.isActive": {"$ne": False}}},
        ]
        if search:
            full = {"$concat": [{"$ifNull": ["$other.firstName", ""]}, " ", {"$ifNull": ["$other.lastName", ""]}]}
            pipeline.append({"$match": {"$expr": {"$regexMatch": {
                "input": full, "regex": re.escape(search), "options": "i"}}}})
        pipeline += [
            {"$sort": {"lastMessageAt": -1, "_id": -1}},
            {"$facet": {
                "total": [{"$count": "n"}],
                "page": [
                    {"$skip": skip}, {"$limit": limit},
                    {"$lookup": {"from": "messages", "localField": "_id", "foreignField": "chat",
                                 "let": {"cutoff": "$cutoff"}, "as": "messages", "pipeline": [
                                     {"$match": {"$expr": {"$gt": ["$createdAt", "$$cutoff"]}}},
                                     {"$sort": {"createdAt": -1, "_id": -1}}, {"$limit": last_messages}]}}
                    if last_messages > 0 else {"$addFields": {"messages": []}},
                    {"$lookup": {"from": "messages", "localField": "_id", "foreignField": "chat",
                                 "let": {"cutoff": "$cutoff"}, "as": "unread", "pipeline": [
                                     {"$match": {"receiver": user_id, "isRead": False,
                                                 "$expr": {"$gt": ["$createdAt", "$$cutoff"]}}},
                                     {"$count": "n"}]}},
                ],
            }},
        ]
        result = await (await self.col.aggregate(pipeline)).to_list(None)
        facet = result[0] if result else {"total": [], "page": []}
        total = facet["total"][0]["n"] if facet["total"] else 0
        return facet["page"], total
