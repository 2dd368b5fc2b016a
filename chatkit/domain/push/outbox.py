"""Deciding a push notification and writing it to the outbox, before anything is sent.

Queueing never fails or slows the message it is about beyond one or two small writes:
an error is logged and the message goes on, and delivery happens later, in a sender
task (``sender.py``). With Firebase configured, the messages of one chat to one
recipient that arrive while a push of that chat is waiting, or within
``interval`` seconds of the last one going out, merge into a single queued push (the
newest text, and a count), so a burst of fifty messages makes two deliveries, not
fifty. Without Firebase each message is recorded as it comes ("recorded": the record
of what would have been sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from chatkit.domain.language import pick, push_image_body, push_title
from chatkit.domain.push.text import cut
from chatkit.storage.database import Storage
from chatkit.storage.documents import MessageDoc, PushDoc, UserDoc
from chatkit.storage.pushes import QUEUED, RECORDED
from chatkit.wire import now

log = logging.getLogger(__name__)

ImageUrl = Callable[[str], str]
"""An image message's stored ``content`` → the URL a device can load it from."""


def _no_image_url(content: str) -> str:
    return content


class PushOutbox:
    def __init__(self, storage: Storage, *, queue: bool = False, interval: float = 0.0,
                 wake: Callable[[], None] | None = None, image_url: ImageUrl = _no_image_url) -> None:
        self.storage = storage
        self.queue = queue  # False: only record (no push service configured)
        self.interval = timedelta(seconds=interval)
        self.wake = wake or (lambda: None)
        self.image_url = image_url

    async def new_message(self, sender: UserDoc, receiver: UserDoc, chat_id: ObjectId,
                          message: MessageDoc) -> None:
        """A push for ``receiver``, in their language (their stored ``lang``)."""
        lang = pick(None, receiver.get("lang"))
        image = None
        if message["type"] == "image":
            body = push_image_body(lang)
            url = self.image_url(message["content"])
            image = url if url.startswith(("https://", "http://")) else None
        else:
            body = cut(message["content"])
        await self.record(
            receiver["_id"], chat_id, title=push_title(sender.get("firstName"), lang),
            body=body, image=image,
            data={"case": "chat", "info": str(chat_id)}, message_at=message["createdAt"],
        )

    async def record(self, user_id: ObjectId, chat_id: ObjectId, *, title: str, body: str,
                     data: dict[str, str], image: str | None = None, message_at: datetime | None = None) -> None:
        try:
            tokens = await self.storage.sessions.push_tokens(user_id)
            t = now()
            doc: PushDoc = {
                "userId": user_id, "chatId": chat_id, "tokens": tokens, "tokenCount": len(tokens),
                "title": title, "body": body, "image": image, "data": data, "count": 1, "attempts": 0,
                "messageAt": message_at or t, "createdAt": t, "updatedAt": t,
            }
            if not self.queue:
                doc["status"], doc["finishedAt"] = RECORDED, t
                await self.storage.pushes.insert(doc)
                return
            await self._enqueue(doc)
            self.wake()
        except Exception:
            log.exception("could not queue a push notification for user %s", user_id)

    async def _enqueue(self, doc: PushDoc) -> None:
        """Merge into the chat's waiting push, else queue a new one (due once ``interval``
        has passed since the chat's last push went out).

        Sends of one batch are announced concurrently, so messages may reach here out of
        order: the merge keeps the text of the newest message (``messageAt``), not of the
        last one to arrive."""
        pushes, user_id, chat_id = self.storage.pushes, doc["userId"], doc["chatId"]
        latest = {"tokens": doc["tokens"], "tokenCount": doc["tokenCount"], "title": doc["title"],
                  "body": doc["body"], "image": doc.get("image"), "data": doc["data"], "updatedAt": doc["updatedAt"]}
        for _ in range(3):  # a race with another writer or a claim: at most a couple of rounds
            if await pushes.merge_into_fresh(user_id, chat_id, latest, doc["messageAt"]):
                return
            last = await pushes.last_attempt_at(user_id, chat_id)
            due = doc["createdAt"] if last is None else max(doc["createdAt"], last + self.interval)
            try:
                await pushes.insert(PushDoc(**doc, status=QUEUED, dueAt=due))
                return
            except DuplicateKeyError:
                continue
        raise RuntimeError("the chat's queued push kept changing")
