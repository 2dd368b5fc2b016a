"""Clearing a chat, with the contract's three cases, and deleting one for good."""

from __future__ import annotations

from typing import Literal

from bson import ObjectId

from chatkit.domain import audit
from chatkit.domain.access import ChatAccess
from chatkit.domain.errors import BadRequest, NotFound
from chatkit.protocol import Sentence
from chatkit.storage.database import Storage
from chatkit.wire import now

Outcome = Literal["cleared", "deleted"]
ATTEMPTS = 5  # compare-and-set retries against a concurrent clear


class Clearing:
    def __init__(self, storage: Storage, access: ChatAccess) -> None:
        self.storage = storage
        self.access = access

    async def clear_chat(self, user_id: ObjectId, chat_id: ObjectId) -> Outcome:
        """Clear the chat for ``user_id``.

        ``"deleted"`` when the other user had cleared it and nothing was written since,
        so nobody can see anything any more; else ``"cleared"``.
        """
        for _ in range(ATTEMPTS):
            chat = await self.access.chat(user_id, chat_id)
            cleared_by, cleared_at = chat.get("clearedBy"), chat.get("clearedAt")
            t = now()
            if cleared_by is not None and cleared_by != user_id and cleared_at is not None:
                if not await self.storage.messages.any_after(chat_id, cleared_at):
                    await self._delete(chat_id)
                    audit.record("clear-chat", user_id, chat=chat_id, deleted=True)
                    return "deleted"
                await self.storage.messages.delete_in_chat(chat_id, up_to=cleared_at)
            if await self.storage.chats.set_cleared(chat, user_id, t):
                audit.record("clear-chat", user_id, chat=chat_id, deleted=False)
                return "cleared"
        raise BadRequest(Sentence.CLEAR_RACED)

    async def delete_chat(self, chat_id: ObjectId) -> None:
        """Delete the chat and all its messages for both users (an operator's action)."""
        if await self.storage.chats.by_id(chat_id) is None:
            raise NotFound(f"No chat {chat_id}")
        await self._delete(chat_id)

    async def _delete(self, chat_id: ObjectId) -> None:
        await self.storage.messages.delete_in_chat(chat_id)
        await self.storage.chats.delete(chat_id)
