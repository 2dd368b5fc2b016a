"""The claim-and-lease queue that ``pushes`` and ``mails`` share.

An item is written before any attempt to send it; a sender takes the most overdue one
with an atomic claim that lapses at ``dueAt`` (the lease), so a sender that dies mid-send
leaves it to be claimed again, and one that stops gives it back at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Generic, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

QUEUED: Final = "queued"  # waiting for a sender (first try, or a retry after ``dueAt``)
SENDING: Final = "sending"  # claimed by a sender until ``dueAt`` (the lease)

D = TypeVar("D", bound=Any)  # the collection's document type (a TypedDict)


class LeasedQueue(Generic[D]):
    def __init__(self, collection: AsyncCollection[D]) -> None:
        self.col = collection

    async def claim(self, at: datetime, lease_until: datetime) -> D | None:
        """Take the most overdue item (queued, or a claim whose lease lapsed), atomically."""
        return await self.col.find_one_and_update(
            {"status": {"$in": [QUEUED, SENDING]}, "dueAt": {"$lte": at}},
            {"$set": {"status": SENDING, "claim": ObjectId(), "dueAt": lease_until, "lastAttemptAt": at,
                      "updatedAt": at},
             "$inc": {"attempts": 1}},
            sort=[("dueAt", ASCENDING)], return_document=ReturnDocument.AFTER,
        )

    async def release(self, item: D, at: datetime) -> None:
        """Give a claimed item back to the queue at once (the sender is stopping)."""
        await self.col.update_one(
            {"_id": item["_id"], "claim": item["claim"], "status": SENDING},
            {"$set": {"status": QUEUED, "dueAt": at, "updatedAt": at}},
        )
