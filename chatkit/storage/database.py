"""The connection to MongoDB and the one place that creates indexes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

import pymongo
from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, PyMongoError, WaitQueueTimeoutError

from chatkit.errors import OperatorError
from chatkit.storage.changes import ChangeFeed
from chatkit.storage.chats import ChatStore
from chatkit.storage.codes import CodeStore
from chatkit.storage.mails import MailStore
from chatkit.storage.media import MediaStore
from chatkit.storage.messages import MessageStore
from chatkit.storage.migrations import migrate
from chatkit.storage.pushes import PushStore
from chatkit.storage.relays import RelayStore
from chatkit.storage.sessions import SessionStore
from chatkit.storage.users import UserStore

log = logging.getLogger(__name__)


APP_NAME = "chatkit"  # how this server's connections show in MongoDB's logs and currentOp
CLOSE_TIMEOUT = 1.0  # seconds closing the client may take; a paused server never answers endSessions


class DatabaseUnreachable(OperatorError):
    """The URL is unusable or the server did not answer in time; the text says which."""

    exit_code = 4


def unreachable_reason(exc: BaseException) -> str:
    """Why a server could not be reached, in words (never an exception's class name)."""
    text = str(exc).lower()
    if "connection refused" in text or "connect call failed" in text or "errno 111" in text:
        return "connection refused"
    if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
        return "unknown host"
    if "authentication failed" in text or getattr(exc, "code", None) == 18:
        return "authentication failed"
    if "ssl" in text or "tls" in text or "certificate" in text:
        return "TLS handshake failed"
    return "no answer"


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and error lines."""
    return re.sub(r"(mongodb(?:\+srv)?://[^:/@]+):[^@/]*@", r"\1:***@", url)


def describe_mongo_error(exc: BaseException) -> str:
    """PyMongo's message without the raw server reply it appends (", full error: {...}")."""
    details = getattr(exc, "details", None)
    text = details.get("errmsg") if isinstance(details, dict) else None
    text = str(text or exc).split(", full error:")[0].strip() or "no reason given"
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
        self.mails = MailStore(self.db["mails"])
        self.codes = CodeStore(self.db["codes"])
        self.media = MediaStore(self.db)
        self.changes = ChangeFeed(self.db)

    @classmethod
    async def connect(
        cls, url: str, db_name: str, *, timeout: float = 5.0, operation_timeout: float | None = None
    ) -> Storage:
        """Connect and prove the server answers, failing within ``timeout`` seconds.

        ``operation_timeout`` (seconds) bounds every later operation (PyMongo's
        client-side operation timeout, ``timeoutMS``): a server that is down, paused or
        unreachable then costs a request that long and an error ``is_unavailable``
        recognises, never an unbounded wait. None keeps PyMongo's defaults (the admin CLI).
        """
        ms = int(timeout * 1000)
        limit: dict[str, Any] = {} if operation_timeout is None else {
            "timeoutMS": max(1, round(operation_timeout * 1000))}
        try:
            client: AsyncMongoClient[Any] = AsyncMongoClient(
                url, tz_aware=True, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, appname=APP_NAME,
                **limit,
            )
        except (PyMongoError, ValueError, TypeError) as exc:  # InvalidURI, ConfigurationError, ...
            raise DatabaseUnreachable(f"invalid MongoDB URL {redact_url(url)}: {exc}") from None
        try:
            with pymongo.timeout(timeout):  # the reachability check keeps its own limit
                await client.admin.command("ping")
        except PyMongoError as exc:
            await _close(client)
            raise DatabaseUnreachable(
                f"cannot reach MongoDB at {redact_url(url)} within {timeout:.0f}s: {unreachable_reason(exc)}"
            ) from None
        return cls(client, db_name)

    async def ensure_indexes(self) -> None:
        """Create every index the queries need, and migrate legacy data; safe on every start."""
        stores = (self.users, self.sessions, self.chats, self.messages, self.pushes, self.relays, self.mails,
                  self.codes)
        await asyncio.gather(*(store.col.create_indexes(store.INDEXES) for store in stores))
        await migrate(self.db)

    async def ping(self, timeout: float = 2.0) -> bool:
        try:
            await asyncio.wait_for(self.client.admin.command("ping"), timeout)
        except (TimeoutError, PyMongoError):
            return False
        return True

    async def close(self) -> None:
        await _close(self.client)


@contextlib.contextmanager
def without_time_limit() -> Iterator[None]:
    """Lift the per-operation limit for the block (start-up index builds and migrations,
    which may rightly take minutes on a large database). Server selection still gives up
    after the connect timeout, so an unreachable server is reported, not waited on."""
    with pymongo.timeout(0):  # 0: no deadline, as timeoutMS=0 means in the CSOT spec
        yield


async def _close(client: AsyncMongoClient[Any]) -> None:
    """Close ``client`` within ``CLOSE_TIMEOUT``.

    ``close()`` ends the client's server sessions with an ``endSessions`` command that
    is not held to ``timeoutMS``: against a paused or unresponsive server it waits
    forever, which used to hang shutdown. The sessions expire on the server anyway.
    """
    try:
        with pymongo.timeout(CLOSE_TIMEOUT):
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT + 1)
    except TimeoutError:
        log.warning("closing the MongoDB client took over %.0fs; leaving it", CLOSE_TIMEOUT)
