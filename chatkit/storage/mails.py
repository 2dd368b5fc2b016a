"""The ``mails`` collection: the durable queue of account mails, and their record.

A mail is written here before any attempt to send it, so it survives a crash, a
restart or an SMTP outage; senders take it with an atomic claim that lapses after a
lease (as ``pushes`` are taken). Once settled its bodies are erased: they held a
one-time code, and the record (address, subject, status, reason) is what operators need.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Final

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from chatkit.storage.documents import MailDoc, Query

QUEUED: Final = "queued"  # waiting for a sender (first try, or a retry after ``dueAt``)
SENDING: Final = "sending"  # claimed by a sender until ``dueAt`` (the lease)
SENT: Final = "sent"  # the SMTP server accepted it
FAILED: Final = "failed"  # given up; ``reason`` says why
STATUSES: Final = (QUEUED, SENDING, SENT, FAILED)
ERASED: Final = ""  # what the bodies become once a mail is settled


class MailStore:
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("status", ASCENDING), ("dueAt", ASCENDING)], name="due"),
        IndexModel([("status", ASCENDING), ("createdAt", DESCENDING)], name="by_status"),
        IndexModel([("createdAt", DESCENDING)], name="newest"),
    ]

    def __init__(self, collection: AsyncCollection[MailDoc]) -> None:
        self.col = collection

    async def insert(self, doc: MailDoc) -> MailDoc:
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc

    async def claim(self, at: datetime, lease_until: datetime) -> MailDoc | None:
        """Take the most overdue mail (queued, or a claim whose lease lapsed), atomically."""
        return await self.col.find_one_and_update(
            {"status": {"$in": [QUEUED, SENDING]}, "dueAt": {"$lte": at}},
            {"$set": {"status": SENDING, "claim": ObjectId(), "dueAt": lease_until, "lastAttemptAt": at,
                      "updatedAt": at},
             "$inc": {"attempts": 1}},
            sort=[("dueAt", ASCENDING)], return_document=ReturnDocument.AFTER,
        )

    async def settle(self, mail: MailDoc, fields: Query) -> bool:
        """Record an attempt's outcome, if this attempt still holds the claim; a final
        outcome (sent, failed) erases the bodies."""
        if fields.get("status") in (SENT, FAILED):
            fields = {**fields, "text": ERASED, "html": ERASED}
        result = await self.col.update_one({"_id": mail["_id"], "claim": mail["claim"], "status": SENDING},
                                           {"$set": fields})
        return result.matched_count > 0

    async def release(self, mail: MailDoc, at: datetime) -> None:
        """Give a claimed mail back to the queue at once (the sender is stopping)."""
        await self.col.update_one(
            {"_id": mail["_id"], "claim": mail["claim"], "status": SENDING},
            {"$set": {"status": QUEUED, "dueAt": at, "updatedAt": at}},
        )

    async def listing(self, statuses: list[str] | None, limit: int) -> tuple[list[MailDoc], int]:
        """Newest first, with how many match in all; never the bodies."""
        match: Query = {} if statuses is None else {"status": {"$in": statuses}}
        cursor = self.col.find(match, {"text": 0, "html": 0}).sort([("createdAt", -1), ("_id", -1)]).limit(limit)
        docs = await cursor.to_list(None)
        return docs, await self.col.count_documents(match)
