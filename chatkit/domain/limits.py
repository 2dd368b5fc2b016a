"""Rate limits on the write paths: a flood is refused early and cheaply, a person never.

Each limit is a leaky bucket (``chatkit.domain.throttle.Rate``): ``burst`` at once, then
one more per ``1/per_second`` seconds. A request over its limit is refused with
``TooManyRequests`` (429 and ``Retry-After`` on REST, a failed ack and an ``error``
event with ``retryAfter`` on Socket.IO) *before* any database work, so a refused flood
costs a bucket update per event and no more.

The limits (settings ``CHATKIT_RATE_*``, defaults far above what a person does):

- ``messages``: ``new-message`` per user, over all of the user's sockets and processes.
- ``registrations``: ``POST register`` per client address (each one hashes a password).
- ``uploads``: image uploads per user (chat images, profile pictures): checked before
  the upload is read, so a refused one is neither spooled nor decoded.
- ``typing``: ``typing`` and ``stop-typing`` per socket.
- ``actions``: every other write. Per user over REST (block and unblock, clearing a
  chat, changing the password, editing the profile), shared like the limits above; per
  socket on Socket.IO (``join-chat``, ``leave-chat``, ``message-delivered``), in memory.
- Logins per address are the login throttle's (``chatkit.domain.throttle``,
  ``CHATKIT_LOGIN_RETRY_SECONDS``); mailed codes per address are ``CHATKIT_CODES_PER_HOUR``.

Limits per user or address are kept in a ``BucketStore``: this process's memory, or
Redis when ``CHATKIT_REDIS_URL`` is set, so that all processes of a deployment share
them (``chatkit.storage.redis_limits``, picked in ``chatkit.services``). A limit per
socket stays in memory: a socket lives in one process. When the shared store cannot
answer (Redis down), requests are let through and a warning is logged: a limiter that
fails closed would turn a Redis outage into a chat outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from bson import ObjectId

from chatkit.domain.errors import TooManyRequests
from chatkit.domain.throttle import MAX_KEYS, BucketTable, Rate, whole_seconds
from chatkit.protocol import Sentence
from chatkit.settings import ENV_PREFIX, Settings, parse_rate

log = logging.getLogger(__name__)

WARN_EVERY = 10.0  # seconds between warnings that the shared store is not answering


class BucketStore(Protocol):
    async def take(self, key: str, rate: Rate) -> float | None:
        """Take one from the bucket ``key``: 0 when it fit (and is now counted), else the
        seconds until it would; None when the store could not tell (nothing counted)."""
        ...

    async def close(self) -> None: ...


class MemoryBuckets:
    """Buckets in this process's memory (bounded: see ``BucketTable``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._table = BucketTable(max_keys)

    def take_now(self, key: str, rate: Rate) -> float:
        now = self._clock()
        wait = rate.wait(self._table.level((key,), now))
        if wait == 0.0:
            self._table.add((key,), rate, 1.0, now)
        return wait

    async def take(self, key: str, rate: Rate) -> float | None:
        return self.take_now(key, rate)

    async def close(self) -> None:
        """Nothing to release (a ``BucketStore``)."""

    def __len__(self) -> int:
        return len(self._table)


def rate_setting(settings: Settings, name: str) -> Rate | None:
    """The limit ``rate_<name>`` of the settings (validated there), None when off."""
    parsed = parse_rate(getattr(settings, f"rate_{name}"), f"{ENV_PREFIX}RATE_{name.upper()}")
    return None if parsed is None else Rate(*parsed)


def rate_limited(wait: float) -> TooManyRequests:
    return TooManyRequests(Sentence.RATE_LIMITED, retry_after=whole_seconds(wait))


class RateLimits:
    """The checks the transports make before a write; each raises ``TooManyRequests``."""

    def __init__(self, *, messages: Rate | None, registrations: Rate | None, uploads: Rate | None,
                 typing: Rate | None, shared: BucketStore, local: MemoryBuckets | None = None,
                 actions: Rate | None = None) -> None:
        self._messages = messages
        self._registrations = registrations
        self._uploads = uploads
        self._typing = typing
        self._actions = actions
        self._shared = shared
        self._local = local if local is not None else MemoryBuckets()
        self._warned_at = float("-inf")

    @classmethod
    def from_settings(cls, settings: Settings, shared: BucketStore | None = None) -> RateLimits:
        return cls(messages=rate_setting(settings, "messages"),
                   registrations=rate_setting(settings, "registrations"),
                   uploads=rate_setting(settings, "uploads"), typing=rate_setting(settings, "typing"),
                   actions=rate_setting(settings, "actions"),
                   shared=shared if shared is not None else MemoryBuckets())

    async def message(self, user_id: ObjectId) -> None:
        await self._take("messages", str(user_id), self._messages)

    async def registration(self, address: str | None) -> None:
        await self._take("registrations", address or "-", self._registrations)

    async def upload(self, user_id: ObjectId) -> None:
        await self._take("uploads", str(user_id), self._uploads)

    async def action(self, user_id: ObjectId) -> None:
        """A write over REST other than a message, a registration or an upload."""
        await self._take("actions", str(user_id), self._actions)

    def typing(self, sid: str) -> None:
        """Per socket, so always in this process's memory (no round trip per keystroke)."""
        self._take_local("typing", sid, self._typing)

    def socket_action(self, sid: str) -> None:
        """A socket event other than a message or typing; per socket, like :meth:`typing`."""
        self._take_local("actions", sid, self._actions)

    def _take_local(self, name: str, sid: str, rate: Rate | None) -> None:
        if rate is not None:
            wait = self._local.take_now(f"{name}:{sid}", rate)
            if wait > 0:
                raise rate_limited(wait)

    async def close(self) -> None:
        await self._shared.close()

    async def _take(self, name: str, key: str, rate: Rate | None) -> None:
        if rate is None:
            return
        wait = await self._shared.take(f"{name}:{key}", rate)
        if wait is None:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                log.warning("rate limits not checked: the shared store (Redis) is not answering")
        elif wait > 0:
            raise rate_limited(wait)
