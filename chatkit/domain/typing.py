"""Typing notices: relayed to the other participant, never between blocked users, never stored."""

from __future__ import annotations

from bson import ObjectId

from chatkit.domain.access import ChatAccess, other_participant
from chatkit.domain.notifier import Notifier
from chatkit.domain.views import block_flags, typing_view
from chatkit.protocol import Event
from chatkit.storage.database import Storage
from chatkit.storage.documents import UserDoc
from chatkit.storage.users import BLOCK_FIELDS


class Typing:
    def __init__(self, storage: Storage, access: ChatAccess, notifier: Notifier) -> None:
        self.storage = storage
        self.access = access
        self.notifier = notifier

    async def typing(self, user: UserDoc, chat_id: ObjectId, *, stopped: bool) -> None:
        chat = await self.access.chat(user["_id"], chat_id)
        other_id = other_participant(chat, user["_id"])
        # Blocks are read fresh: the caller's copy of ``user`` is from connect time.
        users = await self.storage.users.by_ids([user["_id"], other_id], BLOCK_FIELDS)
        me, other = users.get(user["_id"]), users.get(other_id)
        if me is None or other is None or block_flags(me, other)["blocked"]:
            return
        event = Event.STOP_TYPING if stopped else Event.TYPING
        await self.notifier.emit(other_id, event, typing_view(chat_id, user))
