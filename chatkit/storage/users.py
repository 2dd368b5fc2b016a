"""Every query on the ``users`` collection."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from chatkit.storage.documents import Query, SessionDoc, UserDoc
from chatkit.wire import now

# Projections, named for what they serve.
PEER_FIELDS: Query = {"firstName": 1, "lastName": 1, "profilePicture": 1, "isActive": 1, "isBlocked": 1,
                      "blockedUsers": 1, "lang": 1}
"""What the other side of a chat needs: name, picture, standing, blocks both ways, and the
language their notifications are written in."""
BLOCK_FIELDS: Query = {"blockedUsers": 1}
DIRECTORY_FIELDS: Query = {"firstName": 1, "lastName": 1, "profilePicture": 1, "isActive": 1}
"""A user as the user directory (``/chats/users``) lists them."""
CONTACT_FIELDS: Query = {"firstName": 1, "lastName": 1, "email": 1}
"""A participant as operators see them in chat listings."""
STANDING_FIELDS: Query = {"isActive": 1, "isBlocked": 1, "passwordChangedAt": 1}
"""What decides whether an account may still be used."""


class DuplicateEmail(Exception):
    """The unique email index refused a second account with this address."""


def search_keys(first: str | None, last: str | None, email: str | None) -> list[str]:
    """What a user can be found by: every word-start of the full name, and the email.

    Stored lower-case and matched by prefix, so a case-insensitive search for "lee",
    "ann l" or "ann.lee@" is an index range scan instead of a regex over every user.
    """
    words = " ".join(p for p in (first, last) if p).lower().split()
    keys = {" ".join(words[i:]) for i in range(len(words))}
    if email:
        keys.add(email.lower())
    return sorted(keys)


class UserStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        # Named as Mongoose names it, so a database the original backend wrote is accepted as is.
        IndexModel([("email", ASCENDING)], unique=True, name="email_1"),
        IndexModel([("isActive", ASCENDING), ("firstName", ASCENDING)], name="active_by_name"),
        IndexModel([("searchKeys", ASCENDING)], name="search_keys"),
    ]

    def __init__(self, collection: AsyncCollection[UserDoc]) -> None:
        self.col = collection

    async def insert(self, doc: UserDoc) -> UserDoc:
        doc["searchKeys"] = search_keys(doc.get("firstName"), doc.get("lastName"), doc.get("email"))
        try:
            result = await self.col.insert_one(doc)
        except DuplicateKeyError:
            raise DuplicateEmail(doc.get("email")) from None
        doc["_id"] = result.inserted_id
        return doc

    async def by_id(self, user_id: ObjectId, projection: Query | None = None) -> UserDoc | None:
        return await self.col.find_one({"_id": user_id}, projection)

    async def with_session(self, user_id: ObjectId, token_hash: str) -> tuple[UserDoc | None, SessionDoc | None]:
        """The user and the session of a token, in one round trip: every authenticated
        request and socket connect asks for both, and under a burst of connects the
        driver's cost per operation is what limits how fast sockets get in."""
        cursor = await self.col.aggregate([
            {"$match": {"_id": user_id}},
            {"$lookup": {"from": "sessions", "pipeline": [{"$match": {"tokenHash": token_hash}}], "as": "_session"}},
        ])
        found: list[Any] = await cursor.to_list(1)
        if not found:
            return None, None
        user = found[0]
        sessions = user.pop("_session")
        return user, sessions[0] if sessions else None

    async def by_email(self, email: str) -> UserDoc | None:
        return await self.col.find_one({"email": email})

    async def by_ids(self, user_ids: list[ObjectId], projection: Query | None = None) -> dict[ObjectId, UserDoc]:
        cursor = self.col.find({"_id": {"$in": list(user_ids)}}, projection)
        return {doc["_id"]: doc async for doc in cursor}

    async def update(self, user_id: ObjectId, fields: Query) -> UserDoc | None:
        return await self.col.find_one_and_update(
            {"_id": user_id},
            {"$set": {**fields, "updatedAt": now()}},
            return_document=ReturnDocument.AFTER,
        )

    async def claim_legacy_token(self, user_id: ObjectId, token: str) -> UserDoc | None:
        """Take the original backend's per-user ``token`` off the user, once.

        Returns the user as it was (with its ``notificationToken``) if ``token`` was the
        one stored there, else None.
        """
        return await self.col.find_one_and_update(
            {"_id": user_id, "token": token},
            {"$unset": {"token": "", "notificationToken": ""}},
            return_document=ReturnDocument.BEFORE,
        )

    async def set_blocked(self, user_id: ObjectId, other_id: ObjectId, blocked: bool) -> bool:
        """Add or remove ``other_id`` in ``blockedUsers``; True if it changed anything."""
        op = "$addToSet" if blocked else "$pull"
        present = {"$ne": other_id} if blocked else other_id
        result = await self.col.update_one(
            {"_id": user_id, "blockedUsers": present},
            {op: {"blockedUsers": other_id}, "$set": {"updatedAt": now()}},
        )
        return result.modified_count > 0

    async def search(
        self,
        *,
        text: str | None,
        exclude: ObjectId | None,
        active_only: bool,
        skip: int,
        limit: int,
        projection: Query | None = None,
    ) -> tuple[list[UserDoc], int]:
        query: Query = {}
        if exclude is not None:
            query["_id"] = {"$ne": exclude}
        if active_only:
            query["isActive"] = {"$ne": False}
            query["isBlocked"] = {"$ne": True}
        if text:
            query["searchKeys"] = {"$regex": "^" + re.escape(" ".join(text.lower().split()))}
        total = await self.col.count_documents(query)
        cursor = self.col.find(query, projection).sort([("firstName", 1), ("lastName", 1), ("_id", 1)])
        docs = await cursor.skip(skip).limit(limit).to_list(None)
        return docs, total
