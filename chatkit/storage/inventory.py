"""What a database holds, counted for operators: is it chatkit's at all, and how big.

Separate from the per-collection stores because it reads across all of them and
answers questions no request path asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chatkit.storage.media import BUCKET

MARKER_COLLECTION = "users"  # every chatkit database has it from its first start


async def holds_chatkit_data(db: AsyncDatabase[Any]) -> bool:
    """True if ``db`` exists and is a chatkit database (a server has started on it)."""
    return MARKER_COLLECTION in await db.list_collection_names(filter={"name": MARKER_COLLECTION})


@dataclass(frozen=True)
class Inventory:
    users: int
    active_users: int
    banned_users: int
    chats: int
    messages: int
    media_files: int
    open_sessions: int
    data_bytes: int  # the documents, uncompressed
    storage_bytes: int  # on disk, compressed, indexes included


async def take_inventory(db: AsyncDatabase[Any], now: Any) -> Inventory:
    users = db["users"]
    stats = await db.command("dbStats")
    return Inventory(
        users=await users.count_documents({}),
        active_users=await users.count_documents({"isActive": {"$ne": False}, "isBlocked": {"$ne": True}}),
        banned_users=await users.count_documents({"isBlocked": True}),
        chats=await db["chats"].estimated_document_count(),
        messages=await db["messages"].estimated_document_count(),
        media_files=await db[f"{BUCKET}.files"].estimated_document_count(),
        open_sessions=await db["sessions"].count_documents({"revokedAt": None, "expiresAt": {"$gt": now}}),
        data_bytes=int(stats.get("dataSize", 0)),
        storage_bytes=int(stats.get("storageSize", 0)) + int(stats.get("indexSize", 0)),
    )


async def chat_contents(db: AsyncDatabase[Any], chat_id: Any) -> tuple[int, int]:
    """How many messages and stored images one chat holds (what deleting it removes)."""
    messages = await db["messages"].count_documents({"chat": chat_id})
    files = await db[f"{BUCKET}.files"].count_documents({"metadata.chat": chat_id})
    return messages, files
