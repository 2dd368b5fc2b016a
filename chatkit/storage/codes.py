"""The ``codes`` collection: one-time codes mailed to an address, as keyed hashes only.

A code is checked with an atomic "take a try" update (``tries`` below the limit, not
used, not expired), so concurrent guesses cannot exceed the limit, and used once with
an atomic "mark used" update, so two requests with the right code cannot both win.
Codes stay (dead) until ``purgeAt``, an hour or more after they were made (a TTL
index removes them then), so the codes mailed to an address in the last hour can be
counted for the per-address limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from chatkit.storage.documents import CodeDoc, Query


class CodeStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("email", ASCENDING), ("purpose", ASCENDING), ("createdAt", DESCENDING)], name="by_email"),
        IndexModel([("bareHash", ASCENDING)], name="by_bare_hash"),
        IndexModel([("purgeAt", ASCENDING)], expireAfterSeconds=0, name="purge"),
    ]

    def __init__(self, collection: AsyncCollection[CodeDoc]) -> None:
        self.col = collection

    async def insert(self, doc: CodeDoc) -> CodeDoc:
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc

    async def sent_since(self, email: str, since: datetime) -> list[datetime]:
        """When codes were requested for ``email`` since ``since`` (any purpose), oldest first."""
        cursor = self.col.find({"email": email, "createdAt": {"$gte": since}}, {"createdAt": 1}).sort("createdAt", 1)
        return [doc["createdAt"] async for doc in cursor]

    async def retire(self, email: str, purpose: str, at: datetime) -> None:
        """End every live code of this address and purpose (a newer one replaces them)."""
        await self.col.update_many({"email": email, "purpose": purpose, "usedAt": None, "expiresAt": {"$gt": at}},
                                   {"$set": {"expiresAt": at}})

    async def take_try(self, match: Query, max_tries: int, at: datetime) -> CodeDoc | None:
        """The newest live code matching ``match``, with one more try counted on it, or None
        if there is none (unknown, used, expired, or out of tries)."""
        return await self.col.find_one_and_update(
            {**match, "usedAt": None, "expiresAt": {"$gt": at}, "tries": {"$lt": max_tries}},
            {"$inc": {"tries": 1}},
            sort=[("createdAt", DESCENDING)], return_document=ReturnDocument.AFTER,
        )

    async def live_with_bare_hash(self, bare_hash: str, purpose: str, at: datetime, limit: int = 2) -> list[CodeDoc]:
        cursor = self.col.find({"bareHash": bare_hash, "purpose": purpose, "usedAt": None, "expiresAt": {"$gt": at}})
        return await cursor.limit(limit).to_list(None)

    async def use(self, code_id: ObjectId, at: datetime) -> bool:
        """Mark the code used; False if another request used it first."""
        result = await self.col.update_one({"_id": code_id, "usedAt": None, "expiresAt": {"$gt": at}},
                                           {"$set": {"usedAt": at}})
        return result.modified_count == 1
