"""The ``mails`` collection: the durable queue of account mails, and their record.

A mail is written here before any attempt to send it, so it survives a crash, a
restart or an SMTP outage; senders take it with an atomic claim that lapses after a
lease (as ``pushes`` are taken). Once settled its bodies are erased: they held a
one-time code, and the record (address, subject, status, reason) is what operators need.
"""

from __future__ import annotations

from typing import ClassVar, Final

from pymongo import ASCENDING, DESCENDING, IndexModel

from chatkit.storage.documents import MailDoc, Query
from chatkit.storage.leases import QUEUED as QUEUED
from chatkit.storage.leases import SENDING as SENDING
from chatkit.storage.leases import LeasedQueue

SENT: Final = "sent"  # the SMTP server accepted it
FAILED: Final = "failed"  # given up; ``reason`` says why
STATUSES: Final = (QUEUED, SENDING, SENT, FAILED)
ERASED: Final = ""  # what the bodies become once a mail is settled


class MailStore(LeasedQueue[MailDoc]):
    INDEXES: ClassVar[list[IndexModel]] = [
        IndexModel([("status", ASCENDING), ("dueAt", ASCENDING)], name="due"),
        IndexModel([("status", ASCENDING), ("createdAt", DESCENDING)], name="by_status"),
        IndexModel([("createdAt", DESCENDING)], name="newest"),
    ]

    async def insert(self, doc: MailDoc) -> MailDoc:
        result = await self.col.insert_one(doc)
        doc["_id"] = result.inserted_id
        return doc

    async def settle(self, mail: MailDoc, fields: Query) -> bool:
        """Record an attempt's outcome, if this attempt still holds the claim; a final
        outcome (sent, failed) erases the bodies."""
        if fields.get("status") in (SENT, FAILED):
            fields = {**fields, "text": ERASED, "html": ERASED}
        result = await self.col.update_one({"_id": mail["_id"], "claim": mail["claim"], "status": SENDING},
                                           {"$set": fields})
        return result.matched_count > 0

    async def listing(self, statuses: list[str] | None, limit: int) -> tuple[list[MailDoc], int]:
        """Newest first, with how many match in all; never the bodies."""
        match: Query = {} if statuses is None else {"status": {"$in": statuses}}
        cursor = self.col.find(match, {"text": 0, "html": 0}).sort([("createdAt", -1), ("_id", -1)]).limit(limit)
        docs = await cursor.to_list(None)
        return docs, await self.col.count_documents(match)
