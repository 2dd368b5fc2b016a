"""The ``relays`` collection: real-time events written by processes that hold no sockets.

``chatkit admin`` changes data a running server's clients are looking at (a block
writes a ``Label`` line into a chat). It cannot reach their sockets, so it writes the
event here; every running server follows this collection (change stream, or a poll on a
standalone MongoDB) and emits what it finds. Entries expire after an hour: a relay is
news, not history.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bson import ObjectId
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from chatkit.storage.documents import RelayDoc
from chatkit.wire import now

RELAY_LIFETIME_SECONDS = 3600


class RelayStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("createdAt", ASCENDING)], expireAfterSeconds=RELAY_LIFETIME_SECONDS, name="expire"),
    ]

    def __init__(self, collection: AsyncCollection[RelayDoc]) -> None:
        self.col = collection

    async def insert(self, to: ObjectId | None, event: str, payload: Any) -> None:
        await self.col.insert_one({"to": to, "event": event, "payload": payload, "createdAt": now()})

    async def newest_id(self) -> ObjectId | None:
        doc = await self.col.find_one({}, {"_id": 1}, sort=[("_id", -1)])
        return doc["_id"] if doc else None

    async def after(self, last: ObjectId | None) -> list[RelayDoc]:
        """Relays written after ``last`` (every one when None), oldest first."""
        query = {} if last is None else {"_id": {"$gt": last}}
        return await self.col.find(query).sort("_id", 1).to_list(None)
