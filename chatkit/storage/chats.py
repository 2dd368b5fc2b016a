"""Every query on the ``chats`` collection.

One chat per unordered pair is guaranteed by a unique index on ``pairKey`` (the two
ids, sorted), so two first messages racing each other cannot create two chats.
``lastMessageAt`` is kept on the chat so listings sort and filter without scanning
messages, and so a send learns atomically whether it is the first visible message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from chatkit.storage.documents import ChatDoc, ChatListingRow, ChatWithParticipants, MessageDoc, Query, UserDoc
from chatkit.storage.users import PEER_FIELDS

EPOCH = datetime(1970, 1, 1)
RULE_FIELDS = ("clearedBy", "clearedAt", "blocksChangedAt")
"""What a chat's send decisions rest on: who cleared it and when (the first visible
message), and when a block between its two users last changed (who may write)."""


def rules_of(chat: ChatDoc) -> Query:
    """``RULE_FIELDS`` as a filter that matches the chat only while they are unchanged
    (an absent field matches ``None``)."""
    return {field: chat.get(field) for field in RULE_FIELDS}


def pair_key(a: ObjectId, b: ObjectId) -> str:
    return ":".join(sorted((str(a), str(b))))


class ChatStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("pairKey", ASCENDING)], unique=True, name="pair_unique",
                   partialFilterExpression={"pairKey": {"$type": "string"}}),
        IndexModel([("participants", ASCENDING), ("lastMessageAt", DESCENDING)], name="by_participant"),
    ]

    def __init__(self, collection: AsyncCollection[ChatDoc]) -> None:
        self.col = collection

    async def by_id(self, chat_id: ObjectId) -> ChatDoc | None:
        return await self.col.find_one({"_id": chat_id})

    async def with_participants(self, chat_id: ObjectId) -> ChatWithParticipants | None:
        """The chat with its participants' profiles (``PEER_FIELDS``), in one round trip."""
        pipeline: list[Query] = [
            {"$match": {"_id": chat_id}},
            {"$lookup": {"from": "users", "localField": "participants", "foreignField": "_id",
                         "as": "people", "pipeline": [{"$project": PEER_FIELDS}]}},
        ]
        found: list[Any] = await (await self.col.aggregate(pipeline)).to_list(1)
        if not found:
            return None
        people: list[UserDoc] = found[0].pop("people")
        return ChatWithParticipants(found[0], {u["_id"]: u for u in people})

    async def partners_of(self, user_id: ObjectId) -> list[ObjectId]:
        """Everyone ``user_id`` shares a chat with."""
        found = await self.col.distinct("participants", {"participants": user_id})
        return [p for p in found if p != user_id]

    async def partners_among(self, user_id: ObjectId, others: list[ObjectId]) -> set[ObjectId]:
        """Which of ``others`` share a chat with ``user_id``."""
        keys = [pair_key(user_id, o) for o in others]
        cursor = self.col.find({"pairKey": {"$in": keys}}, {"participants": 1})
        return {p async for chat in cursor for p in chat["participants"] if p != user_id}

    async def find_or_create(self, a: ObjectId, b: ObjectId, at: datetime) -> ChatDoc:
        key = pair_key(a, b)
        existing = await self.col.find_one({"pairKey": key})  # the usual case: a read, no write
        if existing is not None:
            return existing
        insert: ChatDoc = {"participants": [a, b], "pairKey": key, "clearedBy": None, "clearedAt": None,
                           "createdAt": at, "updatedAt": at}
        for _ in range(3):
            try:
                created = await self.col.find_one_and_update(
                    {"pairKey": key}, {"$setOnInsert": insert}, upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                if created is not None:
                    return created
            except DuplicateKeyError:  # a concurrent upsert won; read its chat
                found = await self.col.find_one({"pairKey": key})
                if found is not None:
                    return found
        raise RuntimeError("could not create chat")

    async def by_ids(self, chat_ids: list[ObjectId]) -> dict[ObjectId, ChatDoc]:
        return {chat["_id"]: chat async for chat in self.col.find({"_id": {"$in": chat_ids}})}

    async def advance_unchanged(self, advances: list[tuple[ChatDoc, datetime]]) -> bool:
        """Move each chat's ``lastMessageAt`` up to its time, in one round trip, but only
        where the chat's ``RULE_FIELDS`` are still as given (no clear, block or delete
        since it was read). True if every chat was advanced; else the caller finds out
        which were not (their rules changed) and records those one by one."""
        ops = [UpdateOne({"_id": chat["_id"], **rules_of(chat)},
                         {"$max": {"lastMessageAt": at}, "$set": {"updatedAt": at}}) for chat, at in advances]
        result = await self.col.bulk_write(ops, ordered=False)
        return result.matched_count == len(ops)

    async def record_message_unchanged(self, chat: ChatDoc, at: datetime) -> ChatDoc | None:
        """``record_message``, only while ``chat``'s ``RULE_FIELDS`` are as given (else None)."""
        return await self.col.find_one_and_update(
            {"_id": chat["_id"], **rules_of(chat)},
            {"$max": {"lastMessageAt": at}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.BEFORE,
        )

    async def record_message_before(self, chat_id: ObjectId, at: datetime) -> ChatDoc | None:
        """``record_message`` unless the chat already holds a message at ``at`` or later
        (then None; also if the chat is gone)."""
        return await self.col.find_one_and_update(
            {"_id": chat_id, "lastMessageAt": {"$not": {"$gte": at}}},
            {"$max": {"lastMessageAt": at}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.BEFORE,
        )

    async def touch_blocks(self, a: ObjectId, b: ObjectId, at: datetime) -> ChatDoc | None:
        """Mark that a block between ``a`` and ``b`` changed (``blocksChangedAt``); returns their chat.

        Written after the user's ``blockedUsers``: a send that read the chat before this
        is refused by ``advance_unchanged`` and checked again, so a block applies to the
        very next send in every server process, however stale its cached users are.
        """
        return await self.col.find_one_and_update(
            {"pairKey": pair_key(a, b)}, {"$set": {"blocksChangedAt": at}}, return_document=ReturnDocument.AFTER)

    async def record_message(self, chat_id: ObjectId, at: datetime) -> ChatDoc | None:
        """Advance ``lastMessageAt``; returns the chat as it was *before*, atomically."""
        return await self.col.find_one_and_update(
            {"_id": chat_id},
            {"$max": {"lastMessageAt": at}, "$set": {"updatedAt": at}},
            return_document=ReturnDocument.BEFORE,
        )

    async def set_cleared(self, chat: ChatDoc, user_id: ObjectId, at: datetime) -> bool:
        """Set the clear marker if the chat is still as read (compare-and-set)."""
        result = await self.col.update_one(
            {"_id": chat["_id"], "clearedBy": chat.get("clearedBy"), "clearedAt": chat.get("clearedAt")},
            {"$set": {"clearedBy": user_id, "clearedAt": at, "updatedAt": at}},
        )
        return result.modified_count == 1

    async def delete(self, chat_id: ObjectId) -> bool:
        return (await self.col.delete_one({"_id": chat_id})).deleted_count == 1

    async def page(self, user_id: ObjectId | None, skip: int, limit: int) -> tuple[list[ChatDoc], int]:
        """All chats (or one user's), newest first, for operators."""
        if user_id is None:
            total = await self.col.estimated_document_count()
            cursor = self.col.find({}).sort("_id", -1)
        else:
            total = await self.col.count_documents({"participants": user_id})
            cursor = self.col.find({"participants": user_id}).sort("lastMessageAt", -1)
        return await cursor.skip(skip).limit(limit).to_list(None), total

    async def listing(
        self, user_id: ObjectId, *, search: str | None, skip: int, limit: int, last_messages: int
    ) -> tuple[list[ChatListingRow], int]:
        """One page of the user's visible chats, newest activity first, in one round trip."""
        cutoff = {"$cond": [{"$eq": ["$clearedBy", user_id]}, "$clearedAt", EPOCH]}
        pipeline: list[Query] = [
            {"$match": {"participants": user_id, "lastMessageAt": {"$ne": None}}},
            {"$addFields": {
                "cutoff": {"$ifNull": [cutoff, EPOCH]},
                "otherId": {"$first": {"$filter": {"input": "$participants", "cond": {"$ne": ["$$this", user_id]}}}},
            }},
            {"$match": {"$expr": {"$gt": ["$lastMessageAt", "$cutoff"]}}},
            {"$lookup": {"from": "users", "localField": "otherId", "foreignField": "_id", "as": "peer",
                         "pipeline": [{"$project": PEER_FIELDS}]}},
            {"$unwind": "$peer"},
            {"$match": {"peer.isActive": {"$ne": False}}},
        ]
        if search:
            full = {"$concat": [{"$ifNull": ["$peer.firstName", ""]}, " ", {"$ifNull": ["$peer.lastName", ""]}]}
            pipeline.append({"$match": {"$expr": {"$regexMatch": {
                "input": full, "regex": re.escape(search), "options": "i"}}}})
        pipeline += [
            {"$sort": {"lastMessageAt": -1, "_id": -1}},
            {"$facet": {
                "total": [{"$count": "n"}],
                "page": [
                    {"$skip": skip}, {"$limit": limit},
                    {"$lookup": {"from": "messages", "localField": "_id", "foreignField": "chat",
                                 "let": {"cutoff": "$cutoff"}, "as": "lastMessages", "pipeline": [
                                     {"$match": {"$expr": {"$gt": ["$createdAt", "$$cutoff"]}}},
                                     {"$sort": {"createdAt": -1, "_id": -1}}, {"$limit": last_messages}]}}
                    if last_messages > 0 else {"$addFields": {"lastMessages": []}},
                    {"$lookup": {"from": "messages", "localField": "_id", "foreignField": "chat",
                                 "let": {"cutoff": "$cutoff"}, "as": "unread", "pipeline": [
                                     {"$match": {"receiver": user_id, "isRead": False,
                                                 "$expr": {"$gt": ["$createdAt", "$$cutoff"]}}},
                                     {"$count": "n"}]}},
                ],
            }},
        ]
        result: list[Any] = await (await self.col.aggregate(pipeline)).to_list(None)
        facet = result[0] if result else {"total": [], "page": []}
        total = facet["total"][0]["n"] if facet["total"] else 0
        return [_listing_row(doc) for doc in facet["page"]], total


def _listing_row(doc: dict[str, Any]) -> ChatListingRow:
    peer: UserDoc = doc.pop("peer")
    last: list[MessageDoc] = doc.pop("lastMessages")
    unread = doc.pop("unread")
    for helper in ("cutoff", "otherId"):
        doc.pop(helper, None)
    chat: ChatDoc = doc  # type: ignore[assignment]  # what remains is the stored chat
    return ChatListingRow(chat, peer, last, unread[0]["n"] if unread else 0)
