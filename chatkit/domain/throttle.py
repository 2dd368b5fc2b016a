"""Slow password guessing down to a few tries a minute without locking anyone out for long.

Failed logins fill three leaky buckets, the way Synapse's ``rc_login`` limits logins:
one per client address, one per account (the email tried) and one per address and
account together. Each bucket drains at a steady rate and holds at most ``burst``
failures; an attempt is refused (429, with the seconds to wait) while any of its
buckets is full, *before* the password is checked, so a refused guess learns nothing.

An attempt counts as a failure from the moment it is admitted and is refunded when the
password turns out right: a burst of concurrent guesses cannot all slip past the
check while their passwords are still being hashed.

The defaults, for ``retry_seconds`` T = 20 (``CHATKIT_LOGIN_RETRY_SECONDS``):

- address + account: burst 5, then one try every T (3 a minute). Someone who mistypes
  their password five times waits 20 seconds, not 15 minutes.
- account: burst 20, then one every T/2 (6 a minute). One address alone (3 a minute)
  never fills it, so the owner, from another address, is not locked out by a single
  guesser; it takes a guessing network, and once it stops the owner waits at most T/2
  seconds. (While a network keeps guessing, each slot that drains goes to whoever asks
  first: the price of capping distributed guessing at 6 a minute.)
- address: burst 10, then one every T/4 (12 a minute) over all accounts. Spraying one
  password over many accounts from one address is slowed the same way, while the
  people behind a shared address (an office NAT) wait at most T/4 seconds.

A success forgets that address's misses for that account, in all three buckets: they
were the owner mistyping, and that address knows the password anyway. Misses from other
addresses, or for other accounts, stay counted: a success says nothing about them. An
operator can empty an account's buckets at once with :meth:`LoginThrottle.unlock`.

Buckets live in a ``ThrottleStore``: with ``CHATKIT_REDIS_URL`` set, in Redis, shared by
every process of the deployment (a guesser gains nothing by spreading guesses over
processes, and an unlock acts on all of them at once); else in memory (``BucketTable``,
which the rate limits of ``chatkit.domain.limits`` keep their per-process buckets in
too). In memory, empty buckets are swept once the table grows, and past ``max_keys`` the
least recently used are dropped, so a flood of distinct emails or addresses cannot
exhaust memory.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from chatkit.domain.errors import TooManyRequests

log = logging.getLogger(__name__)

PRUNE_ABOVE = 10_000  # buckets held before empty ones are swept
MAX_KEYS = 200_000  # buckets held at most; the least recently used go first
DEFAULT_RETRY_SECONDS = 20.0
_SLACK = 1e-9  # float error in drained levels must not cost a whole extra second
WARN_EVERY = 10.0  # seconds between warnings that the shared store is not answering
T = TypeVar("T")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Rate:
    """A leaky bucket's shape: ``burst`` at once, then one more per ``1/per_second`` s."""

    per_second: float
    burst: int

    def wait(self, level: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` more fits in a bucket at ``level``; 0 when it fits now."""
        over = level + cost - self.burst
        return over / self.per_second if over > _SLACK else 0.0


def whole_seconds(wait: float) -> int:
    """A wait as the whole seconds a client is told (``Retry-After``): at least 1."""
    return max(1, math.ceil(wait - _SLACK))


@dataclass
class _Bucket:
    level: float
    at: float  # clock reading when ``level`` was last computed
    rate: Rate

    def drained(self, now: float) -> float:
        return max(0.0, self.level - (now - self.at) * self.rate.per_second)


class BucketTable:
    """Leaky buckets by key, in this process's memory, bounded in size.

    Empty buckets are swept when the table has doubled since the last sweep (so the cost
    per update stays constant), and past ``max_keys`` the least recently updated go
    first: a flood of distinct keys costs memory up to the bound, never more.
    """

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._max_keys = max_keys
        self._prune_at = PRUNE_ABOVE
        self._buckets: dict[Key, _Bucket] = {}  # oldest update first

    def level(self, key: Key, now: float) -> float:
        bucket = self._buckets.get(key)
        return bucket.drained(now) if bucket else 0.0

    def add(self, key: Key, rate: Rate, amount: float, now: float) -> None:
        """Pour ``amount`` into the bucket (a negative one refunds; the level stays >= 0)."""
        bucket = self._buckets.pop(key, None)
        level = bucket.drained(now) if bucket else 0.0
        self._buckets[key] = _Bucket(max(0.0, level + amount), now, rate)  # re-inserted: now the newest
        self._prune(now)

    def pop(self, key: Key, now: float) -> float | None:
        """Forget the bucket; its level, or None if there was none."""
        bucket = self._buckets.pop(key, None)
        return bucket.drained(now) if bucket is not None else None

    def keys(self) -> list[Key]:
        return list(self._buckets)

    def __contains__(self, key: object) -> bool:
        return key in self._buckets

    def _prune(self, now: float) -> None:
        if len(self._buckets) > self._prune_at:
            for key in [k for k, b in self._buckets.items() if b.drained(now) == 0.0]:
                del self._buckets[key]
            self._prune_at = max(PRUNE_ABOVE, 2 * len(self._buckets))
        while len(self._buckets) > self._max_keys:
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)


def rates_for(retry_seconds: float) -> tuple[Rate, Rate, Rate]:
    """The (address, account, address + account) rates for one try per ``retry_seconds``."""
    return (Rate(4 / retry_seconds, 10), Rate(2 / retry_seconds, 20), Rate(1 / retry_seconds, 5))


Bucket = tuple[Key, Rate]


class ThrottleStore(Protocol):
    """Where the throttle keeps its buckets: this process's memory, or Redis (shared by
    every process of a deployment, ``chatkit.storage.redis_limits``).

    The keys are the throttle's: ``("account", email)``, ``("address", client)`` and
    ``("pair", client, email)``; :meth:`forget` finds an account's buckets by them. A
    shared store that cannot answer raises ``ConnectionError``."""

    async def admit(self, buckets: Sequence[Bucket]) -> float:
        """Add one to every bucket if each has room for it (0), all at once and atomically,
        else add nothing and return the seconds until all would have room."""
        ...

    async def refund(self, buckets: Sequence[Bucket], amount: float) -> None:
        """Take ``amount`` out of those of the buckets that are held (levels stay >= 0)."""
        ...

    async def pop(self, bucket: Bucket) -> float | None:
        """Forget the bucket; its level, or None if there was none."""
        ...

    async def forget(self, email: str) -> bool:
        """Forget the account's bucket and its address + account ones; True if any was held."""
        ...


class MemoryThrottle:
    """A ``ThrottleStore`` in this process's memory (a bounded ``BucketTable``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS) -> None:
        self._clock = clock
        self._table = BucketTable(max_keys)

    async def admit(self, buckets: Sequence[Bucket]) -> float:
        now = self._clock()
        wait = max(rate.wait(self._table.level(key, now)) for key, rate in buckets)
        if wait == 0.0:
            for key, rate in buckets:
                self._table.add(key, rate, 1.0, now)
        return wait

    async def refund(self, buckets: Sequence[Bucket], amount: float) -> None:
        now = self._clock()
        for key, rate in buckets:
            if key in self._table:
                self._table.add(key, rate, -amount, now)

    async def pop(self, bucket: Bucket) -> float | None:
        return self._table.pop(bucket[0], self._clock())

    async def forget(self, email: str) -> bool:
        now = self._clock()
        keys = [k for k in self._table.keys() if k[-1] == email and k[0] in ("account", "pair")]
        for key in keys:
            self._table.pop(key, now)
        return bool(keys)

    def __len__(self) -> int:
        return len(self._table)


class LoginThrottle:
    """``store``: where the buckets are kept (shared through Redis in a deployment of
    several processes); this process's memory when None, and whenever the shared store
    does not answer, so a Redis outage slows guessing per process instead of not at all."""

    def __init__(self, *, retry_seconds: float = DEFAULT_RETRY_SECONDS,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS,
                 store: ThrottleStore | None = None) -> None:
        address, account, pair = rates_for(retry_seconds)
        self._rates = {"address": address, "account": account, "pair": pair}
        self._memory = MemoryThrottle(clock, max_keys)
        self._store: ThrottleStore = store if store is not None else self._memory
        self._warned_at = float("-inf")

    async def admit(self, email: str, client: str | None) -> None:
        """Refuse with ``TooManyRequests`` while a bucket is full; else count this attempt
        as a failure until :meth:`succeeded` or :meth:`abandoned` says otherwise."""
        buckets = self._buckets(email, client)
        wait = await self._use(lambda store: store.admit(buckets))
        if wait > 0:
            seconds = whole_seconds(wait)
            raise TooManyRequests(
                f"Too many failed logins, try again in {seconds} second{'s' if seconds != 1 else ''}",
                retry_after=seconds,
            )

    async def succeeded(self, email: str, client: str | None) -> None:
        """The password was right: refund the attempt and forget this address's misses
        for this account."""
        misses = 1.0
        if client:
            key: Key = ("pair", client, email)
            pair = await self._use(lambda store: store.pop((key, self._rates["pair"])))
            if pair is not None:
                misses = pair  # this attempt included
        await self._refund(email, client, misses)

    async def abandoned(self, email: str, client: str | None) -> None:
        """The attempt ended with no verdict on the password (e.g. the database was down)."""
        await self._refund(email, client, 1.0)

    async def _refund(self, email: str, client: str | None, amount: float) -> None:
        buckets = self._buckets(email, client)
        await self._use(lambda store: store.refund(buckets, amount))

    async def unlock(self, email: str) -> bool:
        """Forget every failure recorded for this account (from any address); True if any was."""
        held = await self._use(lambda store: store.forget(email))
        if self._store is not self._memory:
            held = await self._memory.forget(email) or held  # what an outage left in memory
        return held

    def _buckets(self, email: str, client: str | None) -> list[Bucket]:
        keys: list[Key] = [("account", email)]
        if client:
            keys += [("address", client), ("pair", client, email)]
        return [(key, self._rates[key[0]]) for key in keys]

    async def _use(self, operation: Callable[[ThrottleStore], Awaitable[T]]) -> T:
        """``operation`` on the store, or on this process's memory when the store is down."""
        try:
            return await operation(self._store)
        except ConnectionError as exc:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY:
                self._warned_at = now
                log.warning("login throttle kept in this process only: the shared store is not answering (%s)",
                            exc)
            return await operation(self._memory)

    def __len__(self) -> int:
        """How many buckets this process's memory holds (for tests of the memory bound)."""
        return len(self._memory)
