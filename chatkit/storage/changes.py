"""What the server follows in the database: account changes, ended sessions, relays.

Operators change accounts and chats with ``chatkit admin``, straight in MongoDB. A
running server learns of it here, through one change stream on the database (resumed
after an interruption), as typed records rather than raw change events. A standalone
MongoDB has no change streams: ``follow`` then raises ``ChangeStreamsUnsupported`` and
the caller polls instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from chatkit.storage.documents import Query, RelayDoc, UserDoc

log = logging.getLogger(__name__)

RETRY_DELAY = 0.5
MAX_AWAIT = 1.0  # seconds a getMore waits for a change (MongoDB's own default)
_NO_CHANGE_STREAMS = (40573, 136)  # not a replica set / change streams disabled
_PIPELINE: list[Query] = [{"$match": {"$or": [
    {"operationType": {"$in": ["update", "replace", "delete"]}, "ns.coll": {"$in": ["users", "sessions"]}},
    {"operationType": "insert", "ns.coll": "relays"},
]}}]


class ChangeStreamsUnsupported(RuntimeError):
    """The database is a standalone server: there is nothing to follow."""


@dataclass(frozen=True)
class AccountChanged:
    """A user document changed; ``user`` is None if it was deleted."""

    user_id: ObjectId
    user: UserDoc | None
    password_changed: bool


@dataclass(frozen=True)
class SessionEnded:
    session_id: ObjectId


@dataclass(frozen=True)
class Relayed:
    relay: RelayDoc


@dataclass(frozen=True)
class Following:
    """The stream is open (``live``) or interrupted: while it is not, changes may be
    missed, so whatever is held in memory on the strength of it must not be trusted."""

    live: bool


Change = AccountChanged | SessionEnded | Relayed | Following


class ChangeFeed:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.db = db

    async def follow(self) -> AsyncIterator[Change]:
        """Every relevant change from now on, forever; resumes across interruptions.

        Each wait is one short ``getMore`` (``try_next``) that fits in the client's
        per-operation time limit: iterating with ``async for`` would hold the whole wait
        for the next change to that limit, and fail every few seconds on a quiet
        database. While the database is away the stream is reopened every
        ``RETRY_DELAY`` from the last resume token, logged once per outage.
        """
        resume: Any = None
        outage = False
        while True:
            try:
                async with await self.db.watch(_PIPELINE, resume_after=resume, full_document="updateLookup",
                                               max_await_time_ms=self._await_ms()) as stream:
                    # The token of "now", at once: an outage during the first wait must
                    # resume from here, not from whenever the stream is reopened.
                    resume = stream.resume_token or resume
                    if outage:
                        log.info("change stream resumed")
                        outage = False
                    yield Following(True)
                    while stream.alive:
                        event = await stream.try_next()
                        resume = stream.resume_token or resume
                        change = None if event is None else _decode(event)
                        if change is not None:
                            yield change
                    resume = None  # invalidated (the database was dropped): no resuming past that
                    yield Following(False)
            except PyMongoError as exc:
                yield Following(False)
                if isinstance(exc, OperationFailure) and not exc.timeout:  # refused, not unreachable
                    if exc.code in _NO_CHANGE_STREAMS:
                        raise ChangeStreamsUnsupported(str(exc)) from None
                    log.warning("change stream failed (%s); restarting", exc)
                    resume = None
                elif not outage:
                    log.warning("change stream interrupted (%s); resuming", exc.__class__.__name__)
                    outage = True
            await asyncio.sleep(RETRY_DELAY)

    def _await_ms(self) -> int | None:
        """How long one ``getMore`` waits for a change: well inside the operation limit."""
        limit = self.db.client.options.timeout
        return None if limit is None else max(1, int(min(MAX_AWAIT, limit / 2) * 1000))


def _decode(event: Query) -> Change | None:
    coll, op = event["ns"]["coll"], event["operationType"]
    doc_id = event.get("documentKey", {}).get("_id")
    full = event.get("fullDocument")
    if coll == "relays":
        return Relayed(full) if full else None
    if coll == "sessions":
        if op == "delete" or (full and full.get("revokedAt") is not None):
            return SessionEnded(doc_id)
        return None
    updated = (event.get("updateDescription") or {}).get("updatedFields", {})
    return AccountChanged(doc_id, full, "passwordChangedAt" in updated)
