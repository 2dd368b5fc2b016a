"""``--provision direct``: bench accounts and chats written straight into chatkit's MongoDB.

The one module of ``chatkit.bench`` that imports PyMongo (so the rest runs where only
the wire is reachable). The documents have the shape the server's own writes have
(users with ``searchKeys``, one session per token found by the token's SHA-256, chats
with the ``pairKey`` that keeps one chat per pair); the bench cannot import storage
for it, so the shapes are repeated here and ``tests/test_bench.py`` proves the server
accepts them by running the load over them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import bcrypt
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from chatkit.bench.provision import TOKEN_LIFETIME_S, Account, BenchError, sign


async def insert(mongo_url: str, db_name: str, secret: str, count: int, pairs: int,
                 tag: str) -> tuple[list[Account], list[str]]:
    """Insert ``count`` users with a live session each, and one chat per pair of the first
    ``2 * pairs`` users (2i with 2i+1); returns the accounts and the chat ids."""
    now = datetime.now(UTC)
    # nobody knows this password: the accounts are reachable only through the tokens below
    hashed = bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(4)).decode()
    users, sessions, accounts = [], [], []
    for i in range(count):
        uid = ObjectId()
        first, last, email = f"Bench{i}", f"Run{tag}", f"bench.{tag}.{i}@example.invalid"
        users.append({
            "_id": uid, "firstName": first, "lastName": last, "email": email, "password": hashed,
            "passwordChangedAt": None, "isActive": True, "isBlocked": False, "blockedUsers": [],
            "profilePicture": None, "lang": "en", "searchKeys": _search_keys(first, last, email),
            "createdAt": now, "updatedAt": now,
        })
        token = sign(secret, str(uid))
        sessions.append({"userId": uid, "tokenHash": hashlib.sha256(token.encode()).hexdigest(),
                         "createdAt": now, "expiresAt": now + timedelta(seconds=TOKEN_LIFETIME_S),
                         "revokedAt": None})
        accounts.append(Account(str(uid), token))
    chats = []
    for i in range(pairs):
        a, b = users[2 * i]["_id"], users[2 * i + 1]["_id"]
        chats.append({"_id": ObjectId(), "participants": [a, b], "pairKey": ":".join(sorted((str(a), str(b)))),
                      "clearedBy": None, "clearedAt": None, "createdAt": now, "updatedAt": now})
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10_000)
    try:
        db = client[db_name]
        await db["users"].insert_many(users, ordered=False)
        await db["sessions"].insert_many(sessions, ordered=False)
        if chats:
            await db["chats"].insert_many(chats, ordered=False)
    except PyMongoError as exc:
        raise BenchError(f"writing bench users into {db_name}: {type(exc).__name__}: {exc}") from None
    finally:
        await client.close()
    return accounts, [str(chat["_id"]) for chat in chats]


def _search_keys(first: str, last: str, email: str) -> list[str]:
    """What the directory search matches on (as ``chatkit.storage.users.search_keys``)."""
    words = f"{first} {last}".lower().split()
    return sorted({" ".join(words[i:]) for i in range(len(words))} | {email.lower()})
