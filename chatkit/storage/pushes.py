"""The ``pushes`` outbox: every push notification chatkit decided to send.

Written before any attempt to send, so a push survives a crash or a Firebase outage,
and a deployment without Firebase still shows what would have been sent.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]


class PushStore:
    INDEXES = [
        IndexModel([("status", ASCENDING), ("createdAt", ASCENDING)], name="by_status"),
        IndexModel([("userId", ASCENDING), ("createdAt", DESCENDING)], name="by_user"),
    ]

    def __init__(self, collection: AsyncCollection) -> None:
        self.col = collection

    async def insert(self, doc: Doc) -> Doc:
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc
