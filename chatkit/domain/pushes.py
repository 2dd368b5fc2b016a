"""Deciding a push notification: who gets it, what it says, recorded in the outbox.

Recording never fails the message it is about: an error is logged and the message
goes on. Delivery to devices (Firebase) reads the outbox separately.
"""

from __future__ import annotations

import logging

from bson import ObjectId

from chatkit.storage.database import Storage
from chatkit.storage.documents import MessageDoc, UserDoc
from chatkit.wire import now

log = logging.getLogger(__name__)


class PushOutbox:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def new_message(self, sender: UserDoc, receiver_id: ObjectId, chat_id: ObjectId,
                          message: MessageDoc) -> None:
        body = message["content"] if message["type"] == "text" else "image"
        await self.record(
            receiver_id,
            title=f"New message from {sender.get('firstName') or 'someone'}",
            body=body,
            data={"case": "chat", "info": str(chat_id)},
        )

    async def record(self, user_id: ObjectId, *, title: str, body: str, data: dict[str, str]) -> None:
        try:
            tokens = await self.storage.sessions.push_tokens(user_id)
            await self.storage.pushes.insert({
                "userId": user_id, "tokens": tokens, "title": title, "body": body, "data": data,
                "status": "outbox", "createdAt": now(),
            })
        except Exception:
            log.exception("could not record a push notification for user %s", user_id)
