"""What operators see of the mail outbox (``chatkit admin mails``): never a body.

Each mail shows its address, what it was for, its status, attempts and the reason it
failed or is being retried, so "I never got the code" has an answer.
"""

from __future__ import annotations

from typing import Any

from chatkit.domain.errors import BadRequest
from chatkit.storage.database import Storage
from chatkit.storage.documents import MailDoc
from chatkit.storage.mails import QUEUED, STATUSES

MailView = dict[str, Any]


def mail_view(doc: MailDoc) -> MailView:
    status = doc.get("status")
    return {
        "_id": doc["_id"], "to": doc.get("to"), "kind": doc.get("kind"), "subject": doc.get("subject"),
        "status": status, "attempts": doc.get("attempts", 0), "reason": doc.get("reason"),
        "createdAt": doc.get("createdAt"), "lastAttemptAt": doc.get("lastAttemptAt"),
        "nextAttemptAt": doc.get("dueAt") if status == QUEUED else None, "finishedAt": doc.get("finishedAt"),
    }


class MailReport:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def recent(self, status: str | None = None, limit: int = 50) -> tuple[list[MailView], int]:
        if status is not None and status not in STATUSES:
            raise BadRequest(f"unknown mail status {status!r}: use one of {', '.join(STATUSES)}")
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
        docs, total = await self.storage.mails.listing(None if status is None else [status], limit)
        return [mail_view(d) for d in docs], total
