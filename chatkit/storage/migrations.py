"""Bring a database written by the original Node.js backend up to chatkit's shape.

The original's chats have no ``pairKey`` or ``lastMessageAt``, its messages no
``receiver`` and its users no ``searchKeys``; chatkit's queries rely on all four. The
migration runs once per database (recorded in ``meta``), so later starts cost one
lookup and no scan.
Duplicate chats for one pair (the original could create them under concurrency) are
merged into the oldest one.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chatkit.storage.chats import pair_key
from chatkit.storage.users import search_keys
from chatkit.wire import now

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2
Doc = dict[str, Any]


async def migrate(db: AsyncDatabase[Any]) -> None:
    meta = await db["meta"].find_one({"_id": "schema"})
    if meta and meta.get("version", 0) >= SCHEMA_VERSION:
        return
    chats, messages = db["chats"], db["messages"]
    legacy = await chats.count_documents({"pairKey": {"$exists": False}})
    if legacy:
        log.info("migrating %d chats written by the original backend", legacy)
    async for chat in chats.find({"pairKey": {"$exists": False}}).sort("createdAt", 1):
        await _migrate_chat(chats, messages, chat)
    async for user in db["users"].find({"searchKeys": {"$exists": False}},
                                       {"firstName": 1, "lastName": 1, "email": 1}):
        keys = search_keys(user.get("firstName"), user.get("lastName"), user.get("email"))
        await db["users"].update_one({"_id": user["_id"]}, {"$set": {"searchKeys": keys}})
    await db["meta"].update_one(
        {"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION, "migratedAt": now()}}, upsert=True
    )


async def _migrate_chat(chats: Any, messages: Any, chat: Doc) -> None:
    participants = chat.get("participants") or []
    if len(participants) != 2 or participants[0] == participants[1]:
        log.warning("chat %s has participants %r; left as it is", chat["_id"], participants)
        return
    a, b = participants
    for sender, receiver in ((a, b), (b, a)):
        await messages.update_many(
            {"chat": chat["_id"], "sender": sender, "receiver": {"$exists": False}},
            {"$set": {"receiver": receiver}},
        )
    latest = await messages.find_one({"chat": chat["_id"], "type": {"$ne": "Label"}}, sort=[("createdAt", -1)])
    fields: Doc = {"pairKey": pair_key(a, b), "lastMessageAt": latest["createdAt"] if latest else None}
    try:
        await chats.update_one({"_id": chat["_id"]}, {"$set": fields})
    except DuplicateKeyError:
        keeper = await chats.find_one({"pairKey": fields["pairKey"]})
        log.warning("merging duplicate chat %s into %s", chat["_id"], keeper["_id"])
        await messages.update_many({"chat": chat["_id"]}, {"$set": {"chat": keeper["_id"]}})
        if latest and (keeper.get("lastMessageAt") is None or keeper["lastMessageAt"] < latest["createdAt"]):
            await chats.update_one({"_id": keeper["_id"]}, {"$set": {"lastMessageAt": latest["createdAt"]}})
        await chats.delete_one({"_id": chat["_id"]})
