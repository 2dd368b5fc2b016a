"""The ``pushes`` outbox: every push notification chatkit decided to send.

Written before any attempt to send, so a push survives a crash or a Firebase outage,
and a deployment without Firebase still shows what would have been sent.
"""

from __future__ import annotations

from typing import ClassVar

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from chatkit.storage.documents import PushDoc


class PushStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("status", ASCENDING), ("createdAt", ASCENDING)], name="by_status"),
        IndexModel([("userId", ASCENDING), ("createdAt", DESCENDING)], name="by_user"),
    ]

    def __init__(self, collection: AsyncCollection[PushDoc]) -> None:
        self.col = collection

    async def insert(self, doc: PushDoc) -> PushDoc:
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc
