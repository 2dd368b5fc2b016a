"""Erasing a user for good, as a GDPR erasure request needs (``chatkit admin users delete``).

Chats are one-to-one, so a chat with an erased user has nobody left to show it to
but the other participant, and its text still speaks about (and for) the erased
person: messages are therefore removed, not anonymised. Every chat the user was in
goes with all its messages (both sides) and images, with the account, its sessions
and device push tokens, and queued pushes. The other participants' chat lists simply
lose that chat. Running servers close the user's sockets and refuse the user's tokens
at once: they follow the deleted sessions and account (``server.live_admin``).
"""

from __future__ import annotations

from chatkit.storage.database import Storage
from chatkit.storage.documents import UserDoc
from chatkit.storage.erasure import ErasureCounts, ErasureStore


class Erasure:
    def __init__(self, storage: Storage) -> None:
        self.store = ErasureStore(storage.db)

    async def plan(self, user: UserDoc) -> ErasureCounts:
        """What erasing ``user`` would remove."""
        return await self.store.count(user["_id"])

    async def erase(self, user: UserDoc) -> ErasureCounts:
        return await self.store.erase(user["_id"])
