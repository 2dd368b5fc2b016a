"""The connection to MongoDB and the one place that creates indexes."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, PyMongoError, WaitQueueTimeoutError

from chatkit.errors import OperatorError
from chatkit.storage.changes import ChangeFeed
from chatkit.storage.chats import ChatStore
from chatkit.storage.messages import MessageStore
from chatkit.storage.migrations import migrate
from chatkit.storage.pushes import PushStore
from chatkit.storage.relays import RelayStore
from chatkit.storage.sessions import SessionStore
from chatkit.storage.users import UserStore

log = logging.getLogger(__name__)


class DatabaseUnreachable(OperatorError):
    """The URL is unusable or the server did not answer in time; the text says which."""


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and error lines."""
    return re.sub(r"(mongodb(?:\+srv)?://[^:/@]+):[^@/]*@", r"\1:***@", url)


def describe_mongo_error(exc: BaseException) -> str:
    """PyMongo's message without the raw server reply it appends (", full error: {...}")."""
    details = getattr(exc, "details", None)
    text = details.get("errmsg") if isinstance(details, dict) else None
    text = str(text or exc).split(", full error:")[0].strip() or exc.__class__.__name__
    return text.splitlines()[0][:300]


def is_unavailable(exc: BaseException) -> bool:
    """True if ``exc`` means the database could not be reached in time (worth a retry),
    rather than a refused operation; transports answer the former with 503."""
    if isinstance(exc, (ConnectionFailure, AutoReconnect, WaitQueueTimeoutError)):
        return True
    return isinstance(exc, PyMongoError) and exc.timeout


class Storage:
    """Owns the client and one store object per collection."""

    def __init__(self, client: AsyncMongoClient[Any], db_name: str) -> None:
        self.client = client
        self.db = client[db_name]
        # Each store types its collection by its document (AsyncCollection[UserDoc], ...).
        self.users = UserStore(self.db["users"])
        self.sessions = SessionStore(self.db["sessions"])
        self.chats = ChatStore(self.db["chats"])
        self.messages = MessageStore(self.db["messages"])
        self.pushes = PushStore(self.db["pushes"])
        self.relays = RelayStore(self.db["relays"])
        self.changes = ChangeFeed(self.db)

    @classmethod
    async def connect(cls, url: str, db_name: str, *, timeout: float = 5.0) -> Storage:
        """Connect and prove the server answers, failing within ``timeout`` seconds."""
        ms = int(timeout * 1000)
        try:
            client: AsyncMongoClient[Any] = AsyncMongoClient(
                url, tz_aware=True, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms
            )
        except (PyMongoError, ValueError, TypeError) as exc:  # InvalidURI, ConfigurationError, ...
            raise DatabaseUnreachable(f"invalid MongoDB URL {redact_url(url)}: {exc}") from None
        try:
            await client.admin.command("ping")
        except PyMongoError as exc:
            await client.close()
            raise DatabaseUnreachable(
                f"cannot reach MongoDB at {redact_url(url)} within {timeout:.0f}s: {exc.__class__.__name__}"
            ) from None
        return cls(client, db_name)

    async def ensure_indexes(self) -> None:
        """Create every index the queries need, and migrate legacy data; safe on every start."""
        stores = (self.users, self.sessions, self.chats, self.messages, self.pushes, self.relays)
        await asyncio.gather(*(store.col.create_indexes(store.INDEXES) for store in stores))
        await migrate(self.db)

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self.client.admin.command("ping"), timeout)
        except (TimeoutError, PyMongoError):
            return False
        return True

    async def close(self) -> None:
        await self.client.close()
