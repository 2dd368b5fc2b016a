"""Receipts: delivered and read, and who is told.

The hub that listings, message pages, socket connects and ``join-chat`` use. A message
becomes delivered when the recipient's device has it (a socket connects, a listing is
fetched, ``message-delivered``), and read when they look at the chat (``join-chat``,
a message page); the sender hears ``message-delivered`` / ``messages-seen``.
"""

from __future__ import annotations

from bson import ObjectId

from chatkit.domain.access import ChatAccess, other_participant
from chatkit.domain.errors import NotFound
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence
from chatkit.domain.views import delivered_view, seen_view
from chatkit.protocol import Event, Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc
from chatkit.wire import now


class Receipts:
    def __init__(self, storage: Storage, access: ChatAccess, presence: Presence, notifier: Notifier) -> None:
        self.storage = storage
        self.access = access
        self.presence = presence
        self.notifier = notifier

    async def deliver_pending(self, user_id: ObjectId) -> None:
        """Everything waiting for ``user_id`` is now delivered; one receipt per chat."""
        pending = await self.storage.messages.latest_undelivered_per_chat(user_id)
        if not pending:
            return
        await self.storage.messages.mark_delivered(user_id, up_to=max(p.created_at for p in pending))
        for p in pending:
            await self.notifier.emit(p.sender, Event.MESSAGE_DELIVERED,
                                     delivered_view(p.chat_id, p.message_id, p.created_at))

    async def mark_delivered(self, user_id: ObjectId, message_id: ObjectId) -> None:
        """The recipient's device has the message: it and all before it are delivered."""
        msg = await self.storage.messages.by_id(message_id)
        if msg is None or msg.get("receiver") != user_id:  # the same answer: ids cannot be probed
            raise NotFound(Sentence.MESSAGE_NOT_FOUND)
        chat_id = msg["chat"]
        viewing = self.presence.is_viewing(str(user_id), str(chat_id))
        if viewing:
            changed = await self.storage.messages.mark_read(user_id, chat_id, up_to=msg["createdAt"])
        else:
            changed = await self.storage.messages.mark_delivered(user_id, chat=chat_id, up_to=msg["createdAt"])
        if not changed:
            return
        await self.notifier.emit(msg["sender"], Event.MESSAGE_DELIVERED,
                                 delivered_view(chat_id, msg["_id"], msg["createdAt"]))
        if viewing:
            await self.notifier.emit(msg["sender"], Event.MESSAGES_SEEN, seen_view(chat_id, now()))

    async def mark_chat_read(self, user_id: ObjectId, chat: ChatDoc) -> None:
        if await self.storage.messages.mark_read(user_id, chat["_id"]):
            await self.notifier.emit(other_participant(chat, user_id), Event.MESSAGES_SEEN,
                                     seen_view(chat["_id"], now()))

    async def join_chat(self, user_id: ObjectId, sid: str, chat_id: ObjectId) -> None:
        """Socket ``sid`` is viewing the chat: what is in it is read, and stays so while it looks."""
        chat = await self.access.chat(user_id, chat_id)
        self.presence.join(sid, str(chat_id))
        await self.mark_chat_read(user_id, chat)
        await self.presence.shared()  # acked once every process sees it: what comes next arrives read

    def leave_chat(self, sid: str, chat_id: ObjectId) -> None:
        self.presence.leave(sid, str(chat_id))
