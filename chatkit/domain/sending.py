"""Sending messages: open the chat (every sending rule), store, then announce.

Text and images share the three steps. Ordering guarantee the rest relies on: a
message is stored before anything is emitted or pushed about it. A ``clientId`` makes
a text send idempotent: a retry returns what was stored, once, even if sending has
since become impossible. An image upload is all or nothing: if any step fails, none
of its files and none of its messages remain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Set
from dataclasses import dataclass
from datetime import timedelta

from bson import ObjectId

from chatkit.domain.access import first_visible_for, participant_of
from chatkit.domain.chat_cache import ChatCache
from chatkit.domain.errors import BadRequest, ChatkitError, NotFound
from chatkit.domain.group_commit import Committed, GroupCommit
from chatkit.domain.images import CleanImage
from chatkit.domain.inputs import check_client_id, check_content
from chatkit.domain.media_urls import MediaUrls, media_path
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.domain.push.outbox import PushOutbox
from chatkit.domain.send_rules import Draft, OpenChat, new_message, open_in, permitted
from chatkit.domain.views import (
    View,
    chat_view,
    delivered_view,
    message_view,
    new_chat_view,
    seen_view,
)
from chatkit.protocol import Event, Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import MessageDoc, MessageType
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
class Stored:
    """Messages just stored (in order), and what they changed about their chat."""

    messages: list[MessageDoc]
    first_for: Set[ObjectId]  # participants for whom the first one opens the chat (``new-chat``)
    first_ever: bool  # the chat's first message: its two users just became contacts
    receipt: bool = True  # tell the sender how far the last one got (False: a later send of the batch will)


class Sending:
    def __init__(
        self, storage: Storage, presence: Presence, feed: PresenceFeed, notifier: Notifier, pushes: PushOutbox,
        urls: MediaUrls, cache: ChatCache,
    ) -> None:
        self.storage = storage
        self.cache = cache
        self.commits = GroupCommit(storage, cache, presence)
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
    ) -> Awaitable[SendResult]:
        """Check the message and queue it to be stored; returns the rest of the send to
        await (stored, then everyone concerned told). Idempotent per ``client_id``.

        Queued in call order: a caller that calls again before awaiting the rest (a
        socket reading its next message) keeps its messages in order, and the next
        one joins the next batch instead of waiting a round trip for this one
        (``GroupCommit``). A retry is answered with what was stored, even if sending
        has since become impossible.
        """
        check_content(content, type)
        check_client_id(client_id)
        _one_target(chat_id, other_user_id)
        try:
            opened = await self.open_chat(sender_id, chat_id, other_user_id)
        except ChatkitError:
            existing = None if client_id is None else await self.storage.messages.by_client_id(sender_id, client_id)
            if existing is None:
                raise
            return _ready(self._replay(existing, sender_id))
        return self._deliver(self.commits.submit(opened, Draft(content, type, client_id)))

    async def _deliver(self, queued: Awaitable[Committed]) -> SendResult:
        done = await queued
        if done.duplicate:
            return self._replay(done.message, sender_id=done.opened.sender["_id"])
        [view] = await self.announce(done.opened, Stored([done.message], done.first_for, done.first_ever,
                                                         receipt=done.receipt))
        return SendResult(view)

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
        views = await self.announce(opened, stored)
        if not stored.first_ever:
            return ImagesSent(None, views)
        chat = chat_view(opened.chat["_id"], opened.sender, opened.receiver, list(reversed(stored.messages)),
                         self.urls, online=self.presence.is_online(str(opened.receiver["_id"])))
        return ImagesSent(chat, views)

    async def open_chat(
        self, sender_id: ObjectId, chat_id: ObjectId | None, other_user_id: ObjectId | None
    ) -> OpenChat:
        """The chat to write to, with both users, once every sending rule has passed.

        By ``chat_id`` from the cache when it holds the chat; a first message (by
        ``other_user_id``) reads both users afresh and finds or creates the chat.
        """
        if chat_id is not None:
            found = await self.cache.chat_with_users(chat_id)
            participant_of(found.chat if found else None, sender_id)
            assert found is not None
            return open_in(found, sender_id)
        assert other_user_id is not None
        if other_user_id == sender_id:
            raise BadRequest(Sentence.NOT_TO_YOURSELF)
        users = await self.storage.users.by_ids([sender_id, other_user_id], PEER_FIELDS)
        sender, receiver = permitted(sender_id, other_user_id, users)
        chat = await self.storage.chats.find_or_create(sender_id, other_user_id, now())
        return OpenChat(chat, sender, receiver)

    async def store(self, opened: OpenChat, drafts: list[Draft]) -> Stored:
        """Insert the messages (a millisecond apart, in order) and advance the chat.

        Raises ``DuplicateClientId`` when this sender already stored a draft's ``clientId``.
        On any failure no message of ``drafts`` remains.
        """
        t = now()
        docs = [new_message(opened, d, t + timedelta(milliseconds=i), self.presence) for i, d in enumerate(drafts)]
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

    async def announce(self, opened: OpenChat, stored: Stored) -> list[View]:
        """Both sides see each message (the first as ``new-chat`` if it opens the chat for
        them); the sender learns how far the last one got (once per batch: ``receipt``);
        an offline receiver gets a push. Returns each message as its sender sees it (one
        view per message, built once: the receiver's differs only in ``isMyMsg``)."""
        chat, sender, receiver = opened.chat, opened.sender, opened.receiver
        if stored.first_ever:
            self.feed.new_contacts(sender["_id"], receiver["_id"])
        views: list[View] = []
        for i, msg in enumerate(stored.messages):
            opens_for = stored.first_for if i == 0 else set()
            mine = message_view(msg, sender["_id"], urls=self.urls)
            for me, other, view in ((sender, receiver, mine), (receiver, sender, {**mine, "isMyMsg": False})):
                if me["_id"] in opens_for:
                    await self.notifier.emit(me["_id"], Event.NEW_CHAT,
                                             new_chat_view(chat, msg, view, other, sender, self.urls))
                else:
                    await self.notifier.emit(me["_id"], Event.MESSAGE, view)
            views.append(mine)
            if not msg["isDelivered"]:
                await self.pushes.new_message(sender, receiver, chat["_id"], msg)
        if stored.receipt:  # receipts say "up to": the last message's says it for all
            await self._receipt(sender["_id"], stored.messages[-1])
        return views

    async def _receipt(self, sender_id: ObjectId, last: MessageDoc) -> None:
        if last["isRead"]:
            await self.notifier.emit(sender_id, Event.MESSAGES_SEEN, seen_view(last["chat"], last["createdAt"]))
        elif last["isDelivered"]:
            await self.notifier.emit(sender_id, Event.MESSAGE_DELIVERED,
                                     delivered_view(last["chat"], last["_id"], last["createdAt"]))

    def _replay(self, existing: MessageDoc, sender_id: ObjectId) -> SendResult:
        return SendResult(message_view(existing, sender_id, urls=self.urls), duplicate=True)

    async def _delete_files(self, file_ids: list[ObjectId]) -> None:
        for file_id in file_ids:
            await self.storage.media.delete(file_id)


async def _ready(result: SendResult) -> SendResult:
    return result


def _one_target(chat_id: ObjectId | None, other_user_id: ObjectId | None) -> None:
    if (chat_id is None) == (other_user_id is None):
        raise BadRequest(Sentence.ONE_TARGET)
