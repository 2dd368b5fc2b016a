"""What operators see of the outbox (``chatkit admin pushes``): never a device token.

Each push shows how many devices it was meant for and how many it reached, lost
(token removed) or was refused for, its attempts, and the reason it failed or is being
retried, so "why didn't my phone ring?" has an answer.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from chatkit.domain.errors import BadRequest
from chatkit.storage.database import Storage
from chatkit.storage.documents import PushDoc
from chatkit.storage.pushes import LEGACY_RECORDED, QUEUED, RECORDED, STATUSES

PushView = dict[str, Any]


def push_view(doc: PushDoc) -> PushView:
    status = RECORDED if doc.get("status") == LEGACY_RECORDED else doc.get("status")
    return {
        "_id": doc["_id"], "userId": doc.get("userId"), "chatId": doc.get("chatId"), "status": status,
        "title": doc.get("title"), "body": doc.get("body"), "hasImage": bool(doc.get("image")),
        "messages": doc.get("count", 1), "tokenCount": doc.get("tokenCount", 0),
        "delivered": doc.get("delivered", 0), "removed": doc.get("removed", 0), "rejected": doc.get("rejected", 0),
        "attempts": doc.get("attempts", 0), "reason": doc.get("reason"),
        "createdAt": doc.get("createdAt"), "lastAttemptAt": doc.get("lastAttemptAt"),
        "nextAttemptAt": doc.get("dueAt") if status == QUEUED else None, "finishedAt": doc.get("finishedAt"),
    }


EVERY = 2**62  # "no limit" for MongoDB's $limit, which needs a positive number


class PushReport:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def recent(self, user_id: ObjectId | None = None, status: str | None = None,
                     limit: int = 50, *, every: bool = False) -> tuple[list[PushView], int]:
        """The newest pushes (of one user, in one status), and how many match in all;
        ``every``: all of them, whatever ``limit`` says (an operator's ``--all``)."""
        if status is not None and status not in STATUSES:
            raise BadRequest(f"unknown push status {status!r}: use one of {', '.join(STATUSES)}")
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
        statuses = None if status is None else [status, LEGACY_RECORDED] if status == RECORDED else [status]
        docs, total = await self.storage.pushes.listing(user_id, statuses, EVERY if every else limit)
        return [push_view(d) for d in docs], total
