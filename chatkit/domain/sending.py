"""Sending a message: open the chat (every sending rule), store, then announce.

The three steps are separate so that every kind of message (text now, images next)
shares them. Ordering guarantee the rest relies on: a message is stored before
anything is emitted or pushed about it. A ``clientId`` makes a send idempotent: a
retry returns what was stored, once, even if sending has since become impossible.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId

from chatkit.domain.access import ChatAccess, first_visible_for, other_participant
from chatkit.domain.errors import BadRequest, Forbidden, NotFound
from chatkit.domain.inputs import check_client_id, check_content
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.domain.pushes import PushOutbox
from chatkit.domain.views import View, block_flags, delivered_view, message_view, new_chat_view, seen_view
from chatkit.protocol import Event, Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc, MessageDoc, MessageType, UserDoc
from chatkit.storage.messages import DuplicateClientId
from chatkit.storage.users import PEER_FIELDS
from chatkit.wire import now


@dataclass(frozen=True)
class SendResult:
    message: View  # the stored message as its sender sees it
    duplicate: bool = False  # a retry: nothing new was stored or announced


@dataclass(frozen=True)
class Stored:
    """A message just stored, and what it changed about its chat."""

    message: MessageDoc
    first_for: set[ObjectId]  # participants for whom it opens the chat (``new-chat``)
    first_ever: bool  # the chat's first message: its two users just became contacts


@dataclass(frozen=True)
class OpenChat:
    """A chat that ``sender`` may write to ``receiver`` in, right now."""

    chat: ChatDoc
    sender: UserDoc
    receiver: UserDoc


class Sending:
    def __init__(
        self, storage: Storage, access: ChatAccess, presence: Presence, feed: PresenceFeed, notifier: Notifier,
        pushes: PushOutbox,
    ) -> None:
        self.storage = storage
        self.access = access
        self.presence = presence
        self.feed = feed
        self.notifier = notifier
        self.pushes = pushes

    async def send_message(
        self,
        sender_id: ObjectId,
        content: str,
        *,
        chat_id: ObjectId | None = None,
        other_user_id: ObjectId | None = None,
        type: MessageType = "text",
        client_id: str | None = None,
    ) -> SendResult:
        """Store one message and tell everyone concerned; idempotent per ``client_id``."""
        check_content(content, type)
        check_client_id(client_id)
        if (chat_id is None) == (other_user_id is None):
            raise BadRequest(Sentence.ONE_TARGET)
        opening = self.open_chat(sender_id, chat_id, other_user_id)
        if client_id is not None:
            existing, opened = await asyncio.gather(
                self.storage.messages.by_client_id(sender_id, client_id), opening, return_exceptions=True
            )
            if isinstance(existing, BaseException):
                raise existing
            if existing is not None:
                return SendResult(message_view(existing, sender_id), duplicate=True)
            if isinstance(opened, BaseException):
                raise opened
        else:
            opened = await opening
        try:
            stored = await self.store(opened, content, type, client_id)
        except DuplicateClientId:  # a concurrent retry stored it first
            existing = await self.storage.messages.by_client_id(sender_id, client_id or "")
            if existing is None:
                raise
            return SendResult(message_view(existing, sender_id), duplicate=True)
        await self.announce(opened, stored)
        return SendResult(message_view(stored.message, sender_id))

    async def open_chat(
        self, sender_id: ObjectId, chat_id: ObjectId | None, other_user_id: ObjectId | None
    ) -> OpenChat:
        """The chat to write to, with both users, once every sending rule has passed."""
        chat: ChatDoc | None = None
        if chat_id is not None:
            found = await self.access.chat_with_users(sender_id, chat_id)
            chat, users = found.chat, found.users
            other_user_id = other_participant(chat, sender_id)
        else:
            assert other_user_id is not None
            if other_user_id == sender_id:
                raise BadRequest(Sentence.NOT_TO_YOURSELF)
            users = await self.storage.users.by_ids([sender_id, other_user_id], PEER_FIELDS)
        sender, receiver = users.get(sender_id), users.get(other_user_id)
        if sender is None or receiver is None:
            raise NotFound(Sentence.USER_NOT_FOUND)
        if receiver.get("isActive") is False or receiver.get("isBlocked"):
            raise Forbidden(Sentence.USER_UNAVAILABLE)
        if block_flags(sender, receiver)["blocked"]:
            raise Forbidden(Sentence.BLOCKED)
        if chat is None:
            chat = await self.storage.chats.find_or_create(sender_id, other_user_id, now())
        return OpenChat(chat, sender, receiver)

    async def store(
        self, opened: OpenChat, content: str, type: MessageType, client_id: str | None
    ) -> Stored:
        """Insert the message and advance the chat.

        Raises ``DuplicateClientId`` when this sender already stored ``client_id``.
        """
        t = now()
        doc = self._new_message(opened, content, type, t, client_id)
        stored, before = await asyncio.gather(
            self.storage.messages.insert(doc), self.storage.chats.record_message(opened.chat["_id"], t),
            return_exceptions=True,
        )
        if isinstance(stored, BaseException):
            raise stored
        if isinstance(before, BaseException):
            raise before
        if before is None:  # the chat was deleted under us: keep no orphan message
            await self.storage.messages.delete(stored["_id"])
            raise NotFound(Sentence.CHAT_NOT_FOUND)
        return Stored(stored, first_visible_for(before), before.get("lastMessageAt") is None)

    def _new_message(
        self, opened: OpenChat, content: str, type: MessageType, t: datetime, client_id: str | None
    ) -> MessageDoc:
        receiver_id = opened.receiver["_id"]
        viewing = self.presence.is_viewing(str(receiver_id), str(opened.chat["_id"]))
        online = viewing or self.presence.is_online(str(receiver_id))
        doc: MessageDoc = {
            "chat": opened.chat["_id"], "sender": opened.sender["_id"], "receiver": receiver_id,
            "content": content, "type": type, "isDelivered": online, "isRead": viewing,
            "createdAt": t, "updatedAt": t,
        }
        if client_id is not None:
            doc["clientId"] = client_id
        return doc

    async def announce(self, opened: OpenChat, stored: Stored) -> None:
        """Both sides see the message (as ``new-chat`` if it opens the chat for them); the
        sender learns how far it got; an offline receiver gets a push."""
        chat, sender, receiver, msg = opened.chat, opened.sender, opened.receiver, stored.message
        if stored.first_ever:
            self.feed.new_contacts(sender["_id"], receiver["_id"])
        for me, other in ((sender, receiver), (receiver, sender)):
            if me["_id"] in stored.first_for:
                await self.notifier.emit(me["_id"], Event.NEW_CHAT, new_chat_view(chat, msg, me, other, sender))
            else:
                await self.notifier.emit(me["_id"], Event.MESSAGE, message_view(msg, me["_id"]))
        if msg["isRead"]:
            await self.notifier.emit(sender["_id"], Event.MESSAGES_SEEN, seen_view(chat["_id"], msg["createdAt"]))
        elif msg["isDelivered"]:
            await self.notifier.emit(sender["_id"], Event.MESSAGE_DELIVERED,
                                     delivered_view(chat["_id"], msg["_id"], msg["createdAt"]))
        else:
            await self.pushes.new_message(sender, receiver["_id"], chat["_id"], msg)
