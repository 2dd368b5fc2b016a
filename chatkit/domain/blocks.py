"""Blocking: either side's block stops messages, typing and pushes between two users.

A block or unblock that changes something writes a ``Label`` line ("blocked" /
"unblocked") into the pair's chat, which both users see as an ordinary ``message``.
"""

from __future__ import annotations

from bson import ObjectId

from chatkit.domain import audit
from chatkit.domain.errors import BadRequest, NotFound
from chatkit.domain.notifier import Notifier
from chatkit.domain.views import View, block_flags, message_view
from chatkit.protocol import Event, Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc, MessageDoc
from chatkit.storage.users import BLOCK_FIELDS
from chatkit.wire import now


class Blocks:
    def __init__(self, storage: Storage, notifier: Notifier) -> None:
        self.storage = storage
        self.notifier = notifier

    async def set_block(self, user_id: ObjectId, other_id: ObjectId, blocked: bool) -> View:
        """Block or unblock; idempotent. Returns the pair's block flags as ``user_id`` sees them."""
        if other_id == user_id:
            raise BadRequest("You can't block yourself" if blocked else "You can't unblock yourself")
        if await self.storage.users.by_id(other_id, {"_id": 1}) is None:
            raise NotFound(Sentence.USER_NOT_FOUND)
        if await self.storage.users.set_blocked(user_id, other_id, blocked):
            audit.record("block" if blocked else "unblock", user_id, other=other_id)
            chat = await self.storage.chats.touch_blocks(user_id, other_id, now())
            if chat is not None:
                await self._label(chat, user_id, other_id, "blocked" if blocked else "unblocked")
        users = await self.storage.users.by_ids([user_id, other_id], BLOCK_FIELDS)
        return block_flags(users[user_id], users[other_id])

    async def _label(self, chat: ChatDoc, actor: ObjectId, other: ObjectId, text: str) -> None:
        """A system line: read and delivered from the start, and it does not move the chat up."""
        t = now()
        doc: MessageDoc = {
            "chat": chat["_id"], "sender": actor, "receiver": other, "content": text, "type": "Label",
            "isDelivered": True, "isRead": True, "createdAt": t, "updatedAt": t,
        }
        msg = await self.storage.messages.insert(doc)
        for user in (actor, other):
            await self.notifier.emit(user, Event.MESSAGE, message_view(msg, user))
