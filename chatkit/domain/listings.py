"""What a user (or an operator) reads: chat listings, one chat, message pages, the user directory.

Reading has effects the contract asks for: fetching the listing means the device now
has the messages (delivered), and fetching a chat's messages means they were read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId

from chatkit.domain.access import ChatAccess, cutoff, other_participant
from chatkit.domain.inputs import check_search
from chatkit.domain.media_urls import MediaUrls
from chatkit.domain.presence import Presence
from chatkit.domain.receipts import Receipts
from chatkit.domain.views import View, chat_view, directory_entry, listing_view, message_view
from chatkit.storage.database import Storage
from chatkit.storage.documents import ChatDoc, UserDoc
from chatkit.storage.users import CONTACT_FIELDS, DIRECTORY_FIELDS, PEER_FIELDS

Page = tuple[list[View], int]
"""One page of views and the total count across all pages."""


@dataclass(frozen=True)
class ChatOverview:
    """Chats as operators list them, with their participants' contact fields."""

    chats: list[ChatDoc]
    people: dict[ObjectId, UserDoc]
    total: int


class Listings:
    def __init__(self, storage: Storage, access: ChatAccess, presence: Presence, receipts: Receipts,
                 urls: MediaUrls) -> None:
        self.storage = storage
        self.urls = urls
        self.access = access
        self.presence = presence
        self.receipts = receipts

    async def list_chats(self, user: UserDoc, *, page: int, limit: int, search: str | None,
                         last_messages: int) -> Page:
        await self.receipts.deliver_pending(user["_id"])
        rows, total = await self.storage.chats.listing(
            user["_id"], search=check_search(search), skip=(page - 1) * limit, limit=limit,
            last_messages=last_messages,
        )
        return [listing_view(row, user, self.urls, online=self._online(row.peer["_id"])) for row in rows], total

    async def get_chat(self, user: UserDoc, chat_id: ObjectId, *, last_messages: int) -> View:
        chat = await self.access.chat(user["_id"], chat_id)
        other_id = other_participant(chat, user["_id"])
        other, messages = await asyncio.gather(
            self.storage.users.by_id(other_id, PEER_FIELDS),
            self.storage.messages.latest(chat_id, cutoff(chat, user["_id"]), last_messages),
        )
        peer: UserDoc = other or {"_id": other_id, "isActive": False}  # an account deleted under us
        return chat_view(chat_id, user, peer, messages, self.urls, online=self._online(other_id))

    async def list_messages(
        self, user_id: ObjectId, chat_id: ObjectId, *, page: int, limit: int, search: str | None,
        start: datetime | None, end: datetime | None,
    ) -> Page:
        chat = await self.access.chat(user_id, chat_id)
        await self.receipts.mark_chat_read(user_id, chat)
        docs, total = await self.storage.messages.page(
            chat_id, after=cutoff(chat, user_id), search=check_search(search), start=start, end=end,
            skip=(page - 1) * limit, limit=limit,
        )
        return [message_view(m, user_id, urls=self.urls) for m in docs], total

    async def list_users(self, user_id: ObjectId, *, search: str | None, page: int, limit: int) -> Page:
        """Other active users, for starting a chat."""
        docs, total = await self.storage.users.search(
            text=check_search(search), exclude=user_id, active_only=True, skip=(page - 1) * limit,
            limit=limit, projection=DIRECTORY_FIELDS,
        )
        if self.presence.scope == "all":
            visible = {d["_id"] for d in docs}
        else:  # presence is for contacts only: a stranger reads as offline
            visible = await self.storage.chats.partners_among(user_id, [d["_id"] for d in docs])
        entries = [directory_entry(d, self.urls, online=d["_id"] in visible and self._online(d["_id"])) for d in docs]
        return entries, total

    async def chats_overview(self, user_id: ObjectId | None, *, page: int, limit: int) -> ChatOverview:
        """Every chat (or one user's), for operators: cleared or not, deactivated users too."""
        chats, total = await self.storage.chats.page(user_id, (page - 1) * limit, limit)
        ids = list({p for c in chats for p in c["participants"]})
        people = await self.storage.users.by_ids(ids, CONTACT_FIELDS)
        return ChatOverview(chats, people, total)

    def _online(self, user_id: ObjectId) -> bool:
        return self.presence.is_online(str(user_id))
