"""Every query of erasing one user (``chatkit admin users delete``), in one place.

What goes: the user's sessions (and with them the device push tokens), the pushes
queued for them or carrying text of their chats, every chat they were in with all its
messages and images, relays addressed to them, other users' blocks of them, and the
account itself, last, so that an interrupted erasure can simply be run again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from chatkit.storage.media import BUCKET


@dataclass(frozen=True)
class ErasureCounts:
    sessions: int
    chats: int
    messages: int
    media_files: int
    pushes: int


class ErasureStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def _chat_ids(self, user_id: ObjectId) -> list[ObjectId]:
        return [doc["_id"] async for doc in self.db["chats"].find({"participants": user_id}, {"_id": 1})]

    def _pushes_query(self, user_id: ObjectId, chat_ids: list[ObjectId]) -> dict[str, Any]:
        return {"$or": [{"userId": user_id}, {"chatId": {"$in": chat_ids}}]}

    async def count(self, user_id: ObjectId) -> ErasureCounts:
        """What ``erase`` would remove, without removing it."""
        chats = await self._chat_ids(user_id)
        return ErasureCounts(
            sessions=await self.db["sessions"].count_documents({"userId": user_id}),
            chats=len(chats),
            messages=await self.db["messages"].count_documents({"chat": {"$in": chats}}),
            media_files=await self.db[f"{BUCKET}.files"].count_documents({"metadata.chat": {"$in": chats}}),
            pushes=await self.db["pushes"].count_documents(self._pushes_query(user_id, chats)),
        )

    async def erase(self, user_id: ObjectId) -> ErasureCounts:
        chats = await self._chat_ids(user_id)
        sessions = await self.db["sessions"].delete_many({"userId": user_id})  # live sockets are closed on this
        files = [doc["_id"] async for doc in self.db[f"{BUCKET}.files"].find(
            {"metadata.chat": {"$in": chats}}, {"_id": 1})]
        await self.db[f"{BUCKET}.chunks"].delete_many({"files_id": {"$in": files}})
        await self.db[f"{BUCKET}.files"].delete_many({"_id": {"$in": files}})
        messages = await self.db["messages"].delete_many({"chat": {"$in": chats}})
        pushes = await self.db["pushes"].delete_many(self._pushes_query(user_id, chats))
        await self.db["chats"].delete_many({"_id": {"$in": chats}})
        await self.db["relays"].delete_many({"to": user_id})
        await self.db["users"].update_many({"blockedUsers": user_id}, {"$pull": {"blockedUsers": user_id}})
        await self.db["users"].delete_one({"_id": user_id})
        return ErasureCounts(sessions.deleted_count, len(chats), messages.deleted_count, len(files),
                             pushes.deleted_count)
