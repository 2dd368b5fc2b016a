"""Presence across the processes of a deployment: this process's part out, the others' in.

``Presence`` answers every question (online? viewing?) synchronously, from memory, on
the send path. With several processes each one therefore holds a mirror of the whole
deployment: it writes its own users' entries to Redis (``storage.redis_presence``) as
they change, and applies the other processes' changes, heard on a channel, to its
mirror. The mirror is read afresh from Redis at start and after every reconnect; a
process that dies stops refreshing its entries' TTL, and the others drop them when
they expire (checked every heartbeat). Those here who see a user come or go are told
by ``PresenceFeed``, as for a change on this process.

Writes go out in order, from one task: each carries the current entries of the users
that changed since the last, so a burst of changes costs one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.storage.redis_presence import (
    EntriesChanged,
    Pair,
    ProcessGone,
    RedisPresence,
    Resubscribed,
    SharedStateUnavailable,
    Update,
)

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # seconds to read the deployment's presence before serving
STOP_TIMEOUT = 2.0  # seconds to remove this process's entries on a clean stop
SETTLE_TIMEOUT = 1.0  # seconds a connect or join-chat waits for its presence to be shared


class PresenceSharing:
    """The ``Sharing`` of a process that is one of several."""

    def __init__(self, presence: Presence, feed: PresenceFeed, store: RedisPresence, ttl: float) -> None:
        self.presence = presence
        self.feed = feed
        self.store = store
        self.heartbeat = ttl / 3
        self._dirty: set[str] = set()
        self._contacts: list[Pair] = []
        self._whole = False  # write every entry afresh (Redis lost or expired them)
        self._writing: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loaded = asyncio.Event()
        self._outage = False
        self._stopped = False

    # --- Sharing --------------------------------------------------------------------

    def changed(self, user_id: str) -> None:
        self._dirty.add(user_id)
        self._write_soon()

    def contacts_made(self, a: str, b: str) -> None:
        self._contacts.append((a, b))
        self._write_soon()

    async def settled(self) -> None:
        """The write under way carries every change made before it finishes."""
        writing = self._writing
        if writing is not None:
            with contextlib.suppress(TimeoutError):  # Redis is slow or away: serve on regardless
                await asyncio.wait_for(asyncio.shield(writing), SETTLE_TIMEOUT)

    # --- life -----------------------------------------------------------------------

    async def start(self) -> None:
        """Reach Redis and read the deployment's presence, or fail the start."""
        await self.store.ping()
        self.presence.share_with(self)
        self._tasks = [asyncio.create_task(self._follow(), name="chatkit-presence-follow"),
                       asyncio.create_task(self._beat(), name="chatkit-presence-heartbeat")]
        with contextlib.suppress(TimeoutError):  # it goes on trying; the log says why
            await asyncio.wait_for(self._loaded.wait(), START_TIMEOUT)

    async def stop(self) -> None:
        """Stop sharing; this process's entries leave Redis now rather than at expiry."""
        self._stopped = True
        for task in [*self._tasks, *([self._writing] if self._writing else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await asyncio.wait_for(self.store.remove(), STOP_TIMEOUT)
        except (SharedStateUnavailable, TimeoutError) as exc:
            log.warning("could not remove this process's presence (it expires by itself): %s", exc)
        await self.store.close()

    # --- out ------------------------------------------------------------------------

    def _write_soon(self) -> None:
        if self._writing is None and not self._stopped:
            self._writing = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            await asyncio.sleep(0)  # what else changes in this turn of the loop goes along
            while self._dirty or self._contacts or self._whole:
                users, pairs = self._dirty, self._contacts
                self._dirty, self._contacts = set(), []
                if self._whole:
                    self._whole = False
                    await self.store.replace(self.presence.local_entries())
                if users or pairs:
                    await self.store.put({u: self.presence.local_entry(u) for u in users}, pairs)
                self._recovered()
        except SharedStateUnavailable as exc:
            self._failed(exc)
            self._whole = True  # written whole once Redis is back (next heartbeat)
        except Exception:
            log.exception("could not share presence")
            self._whole = True
        finally:
            self._writing = None

    # --- in -------------------------------------------------------------------------

    async def _follow(self) -> None:
        while True:
            try:
                async with contextlib.aclosing(self.store.follow()) as updates:
                    async for update in updates:
                        await self._apply(update)
            except SharedStateUnavailable as exc:
                self._failed(exc)
            await asyncio.sleep(self.heartbeat)

    async def _apply(self, update: Update) -> None:
        if isinstance(update, Resubscribed):
            snapshot = await self.store.snapshot()
            snapshot.pop(self.store.process, None)
            self.feed.changed_elsewhere(self.presence.replace_elsewhere(snapshot))
            self._whole = True  # what this process wrote meanwhile may be lost
            self._write_soon()
            self._loaded.set()
        elif isinstance(update, ProcessGone):
            self.feed.changed_elsewhere(self.presence.drop_process(update.process))
        elif isinstance(update, EntriesChanged):
            self.feed.changed_elsewhere(self.presence.apply_elsewhere(update.process, update.entries,
                                                                      whole=update.whole))
            for a, b in update.contacts:
                self.feed.contacts_made_elsewhere(a, b)

    async def _beat(self) -> None:
        """Keep this process's entries alive; drop the entries of processes that died."""
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                if not await self.store.refresh() and self.presence.local_entries():
                    self._whole = True  # expired (a long pause?): write them again
                if self._whole:
                    self._write_soon()
                known = self.presence.processes_elsewhere()
                alive = await self.store.alive(known)
                for process in known:
                    if process not in alive:
                        log.info("presence of process %s expired", process)
                        self.feed.changed_elsewhere(self.presence.drop_process(process))
                self._recovered()
            except SharedStateUnavailable as exc:
                self._failed(exc)

    def _failed(self, exc: SharedStateUnavailable) -> None:
        if not self._outage:
            log.warning("%s; presence is shared again once Redis is back", exc)
            self._outage = True

    def _recovered(self) -> None:
        if self._outage:
            log.info("Redis is back: presence is shared again")
            self._outage = False
