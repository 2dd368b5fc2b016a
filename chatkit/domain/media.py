"""Who may fetch a stored image, and the operators' view of the media bucket.

A request may fetch an image with a valid signature (the URL chatkit served, see
``media_urls``) or with the token of one of the chat's two participants (of any user,
for a profile picture). Everyone
else, a bad or expired signature and an unknown id get the same ``NotFound``, so file
ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from bson import ObjectId

from chatkit.domain.accounts import Accounts
from chatkit.domain.errors import ChatkitError, NotFound
from chatkit.domain.media_urls import MediaUrls
from chatkit.storage.database import Storage
from chatkit.storage.media import MediaTotals, StoredFile
from chatkit.wire import now, oid

MEDIA_NOT_FOUND = "Media not found"
ORPHAN_GRACE = timedelta(hours=1)  # an upload still being written is never an orphan


@dataclass(frozen=True)
class MediaReport:
    totals: MediaTotals
    orphans: list[StoredFile]


class MediaLibrary:
    def __init__(self, storage: Storage, accounts: Accounts, urls: MediaUrls) -> None:
        self.storage = storage
        self.accounts = accounts
        self.urls = urls

    async def open_for(self, raw_id: str, *, expires: str | None, signature: str | None,
                       token: str | None) -> StoredFile:
        """The file, if this request may read it; else ``NotFound``, whatever the reason."""
        file_id = oid(raw_id)
        if file_id is None:
            raise NotFound(MEDIA_NOT_FOUND)
        stored = await self.storage.media.info(file_id)
        if stored is None:
            raise NotFound(MEDIA_NOT_FOUND)
        if self.urls.verify(file_id, expires, signature):
            return stored
        if token and await self._participant(token, stored.chat_id):
            return stored
        if token and stored.chat_id is None and await self._signed_in(token):
            return stored  # a profile picture: any signed-in user may see it

        raise NotFound(MEDIA_NOT_FOUND)

    async def _signed_in(self, token: str) -> bool:
        try:
            await self.accounts.authenticate(token)
        except ChatkitError:
            return False
        return True

    def read(self, stored: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes of a file ``open_for`` allowed, from ``start`` up to ``end`` (exclusive)."""
        return self.storage.media.read(stored.file_id, start, end)

    async def _participant(self, token: str, chat_id: ObjectId | None) -> bool:
        try:
            ctx = await self.accounts.authenticate(token)
        except ChatkitError:
            return False
        chat = await self.storage.chats.by_id(chat_id) if chat_id else None
        return chat is not None and ctx.user_id in chat.get("participants", [])

    async def report(self) -> MediaReport:
        totals = await self.storage.media.totals()
        return MediaReport(totals, await self.storage.media.orphans(now() - ORPHAN_GRACE))

    async def prune_orphans(self) -> list[StoredFile]:
        orphans = await self.storage.media.orphans(now() - ORPHAN_GRACE)
        for stored in orphans:
            await self.storage.media.delete(stored.file_id)
        return orphans
