"""Sending messages: open the chat (every sending rule), store, then announce.

Text and images share the three steps. Ordering guarantee the rest relies on: a
message is stored before anything is emitted or pushed about it. A ``clientId`` makes
a text send idempotent: a retry returns what was stored, once, even if sending has
since become impossible. An image upload is all or nothing: if any step fails, none
of its files and none of its messages remain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId

from chatkit.domain.access import ChatAccess, first_visible_for, other_participant
from chatkit.domain.errors import BadRequest, Forbidden, NotFound
from chatkit.domain.images import CleanImage
from chatkit.domain.inputs import check_client_id, check_content
from chatkit.domain.media_urls import MediaUrls, media_path
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.domain.push.outbox import PushOutbox
from chatkit.domain.views import (
    View,
    block_flags,
    chat_view,
    delivered_view,
    message_view,
    new_chat_view,
    seen_view,
)
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
class ImagesSent:
    """An upload's outcome as its sender sees it: the whole chat if the upload opened it."""

    chat: View | None
    messages: list[View]


@dataclass(frozen=True)
class Draft:
    """A message about to be stored."""

    content: str
    type: MessageType
    client_id: str | None = None
    media: ObjectId | None = None


@dataclass(frozen=True)
class Stored:
    """Messages just stored (in order), and what they changed about their chat."""

    messages: list[MessageDoc]
    first_for: set[ObjectId]  # participants for whom the first one opens the chat (``new-chat``)
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
        pushes: PushOutbox, urls: MediaUrls,
    ) -> None:
        self.storage = storage
        self.access = access
        self.presence = presence
        self.feed = feed
        self.notifier = notifier
        self.pushes = pushes
        self.urls = urls

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
        _one_target(chat_id, other_user_id)
        opening = self.open_chat(sender_id, chat_id, other_user_id)
        if client_id is not None:
            existing, opened = await asyncio.gather(
                self.storage.messages.by_client_id(sender_id, client_id), opening, return_exceptions=True
            )
            if isinstance(existing, BaseException):
                raise existing
            if existing is not None:
                return self._replay(existing, sender_id)
            if isinstance(opened, BaseException):
                raise opened
        else:
            opened = await opening
        try:
            stored = await self.store(opened, [Draft(content, type, client_id)])
        except DuplicateClientId:  # a concurrent retry stored it first
            existing = await self.storage.messages.by_client_id(sender_id, client_id or "")
            if existing is None:
                raise
            return self._replay(existing, sender_id)
        await self.announce(opened, stored)
        return SendResult(message_view(stored.messages[0], sender_id, urls=self.urls))

    async def send_images(
        self, sender_id: ObjectId, images: list[CleanImage], *, chat_id: ObjectId | None = None,
        other_user_id: ObjectId | None = None,
    ) -> ImagesSent:
        """One ``image`` message per image, in order; all or nothing."""
        _one_target(chat_id, other_user_id)
        opened = await self.open_chat(sender_id, chat_id, other_user_id)
        file_ids: list[ObjectId] = []
        try:
            for image in images:
                file_ids.append(await self.storage.media.put(
                    image.data, content_type=image.content_type, sha256=image.sha256, chat_id=opened.chat["_id"],
                    uploader=sender_id, width=image.width, height=image.height,
                ))
            stored = await self.store(opened, [Draft(media_path(f), "image", media=f) for f in file_ids])
        except BaseException:
            await asyncio.shield(self._delete_files(file_ids))
            raise
        await self.announce(opened, stored)
        views = [message_view(m, sender_id, urls=self.urls) for m in stored.messages]
        if not stored.first_ever:
            return ImagesSent(None, views)
        chat = chat_view(opened.chat["_id"], opened.sender, opened.receiver, list(reversed(stored.messages)),
                         self.urls, online=self.presence.is_online(str(opened.receiver["_id"])))
        return ImagesSent(chat, views)

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

    async def store(self, opened: OpenChat, drafts: list[Draft]) -> Stored:
        """Insert the messages (a millisecond apart, in order) and advance the chat.

        Raises ``DuplicateClientId`` when this sender already stored a draft's ``clientId``.
        On any failure no message of ``drafts`` remains.
        """
        t = now()
        docs = [self._new_message(opened, d, t + timedelta(milliseconds=i)) for i, d in enumerate(drafts)]
        inserting = (self.storage.messages.insert(docs[0]) if len(docs) == 1
                     else self.storage.messages.insert_many(docs))
        inserted, before = await asyncio.gather(
            inserting, self.storage.chats.record_message(opened.chat["_id"], docs[-1]["createdAt"]),
            return_exceptions=True,
        )
        if isinstance(inserted, BaseException):
            raise inserted
        if isinstance(before, BaseException) or before is None:
            await asyncio.shield(self.storage.messages.delete_ids([d["_id"] for d in docs]))
            if isinstance(before, BaseException):
                raise before
            raise NotFound(Sentence.CHAT_NOT_FOUND)  # the chat was deleted under us: no orphan message
        return Stored(docs, first_visible_for(before), before.get("lastMessageAt") is None)

    def _new_message(self, opened: OpenChat, draft: Draft, t: datetime) -> MessageDoc:
        receiver_id = opened.receiver["_id"]
        viewing = self.presence.is_viewing(str(receiver_id), str(opened.chat["_id"]))
        online = viewing or self.presence.is_online(str(receiver_id))
        doc: MessageDoc = {
            "_id": ObjectId(), "chat": opened.chat["_id"], "sender": opened.sender["_id"], "receiver": receiver_id,
            "content": draft.content, "type": draft.type, "isDelivered": online, "isRead": viewing,
            "createdAt": t, "updatedAt": t,
        }
        if draft.client_id is not None:
            doc["clientId"] = draft.client_id
        if draft.media is not None:
            doc["media"] = draft.media
        return doc

    async def announce(self, opened: OpenChat, stored: Stored) -> None:
        """Both sides see each message (the first as ``new-chat`` if it opens the chat for
        them); the sender learns how far each got; an offline receiver gets a push."""
        chat, sender, receiver = opened.chat, opened.sender, opened.receiver
        if stored.first_ever:
            self.feed.new_contacts(sender["_id"], receiver["_id"])
        for i, msg in enumerate(stored.messages):
            opens_for = stored.first_for if i == 0 else set()
            for me, other in ((sender, receiver), (receiver, sender)):
                if me["_id"] in opens_for:
                    view = new_chat_view(chat, msg, me, other, sender, self.urls)
                    await self.notifier.emit(me["_id"], Event.NEW_CHAT, view)
                else:
                    await self.notifier.emit(me["_id"], Event.MESSAGE, message_view(msg, me["_id"], urls=self.urls))
            if msg["isRead"]:
                await self.notifier.emit(sender["_id"], Event.MESSAGES_SEEN, seen_view(chat["_id"], msg["createdAt"]))
            elif msg["isDelivered"]:
                await self.notifier.emit(sender["_id"], Event.MESSAGE_DELIVERED,
                                         delivered_view(chat["_id"], msg["_id"], msg["createdAt"]))
            else:
                await self.pushes.new_message(sender, receiver["_id"], chat["_id"], msg)

    def _replay(self, existing: MessageDoc, sender_id: ObjectId) -> SendResult:
        return SendResult(message_view(existing, sender_id, urls=self.urls), duplicate=True)

    async def _delete_files(self, file_ids: list[ObjectId]) -> None:
        for file_id in file_ids:
            await self.storage.media.delete(file_id)


def _one_target(chat_id: ObjectId | None, other_user_id: ObjectId | None) -> None:
    if (chat_id is None) == (other_user_id is None):
        raise BadRequest(Sentence.ONE_TARGET)
