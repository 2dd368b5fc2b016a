"""Presence shared between chatkit processes through Redis: the keys, the channel, the records.

Each process owns one hash, ``<prefix>:proc:<process id>``, holding an entry per user
with sockets on that process: the chats those sockets view (a JSON list; empty when
the user is online but views nothing). The hash carries a TTL the process refreshes
by heartbeat, so a process that dies without a word leaves nothing behind for long.
Every write goes out in one ``MULTI`` with a message on ``<prefix>:presence``
carrying the new entries, so a process that subscribed first and then read the hashes
ends up with the current state whichever it sees first.

The rules (who is online, who is told) stay in ``chatkit.domain.presence``; this
module only stores and carries entries, as typed records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from chatkit.errors import OperatorError

log = logging.getLogger(__name__)

Entry = frozenset[str] | None
"""The chats one user's sockets on one process view; None: no sockets there (any more)."""
Snapshot = dict[str, dict[str, frozenset[str]]]
"""Every live process's entries: process id -> user id -> viewed chats."""
Pair = tuple[str, str]

RETRY_DELAY = 0.5  # seconds between attempts to subscribe again after Redis went away
SCAN_COUNT = 500
COMMAND_TIMEOUT = 5.0  # seconds; then Redis counts as unavailable


class SharedStateUnavailable(OperatorError):
    """Redis did not answer (or refused): the caller retries, or a start fails (exit 4)."""

    exit_code = 4


@contextlib.contextmanager
def _answered(doing: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise SharedStateUnavailable(f"Redis unavailable while {doing}: {exc}") from None


@dataclass(frozen=True)
class Resubscribed:
    """The channel was (re)subscribed: messages before this may have been missed, so the
    reader loads a ``snapshot`` now, and republishes its own entries."""


@dataclass(frozen=True)
class EntriesChanged:
    """Process ``process`` changed these users' entries; ``whole``: they are all it has now.
    ``contacts``: pairs of users who just started a chat there (each now sees the other)."""

    process: str
    entries: Mapping[str, Entry]
    whole: bool = False
    contacts: Sequence[Pair] = field(default=())


@dataclass(frozen=True)
class ProcessGone:
    """Process ``process`` stopped cleanly: it has no entries any more."""

    process: str


Update = Resubscribed | EntriesChanged | ProcessGone


def connect(url: str, *, timeout: float | None = COMMAND_TIMEOUT) -> aioredis.Redis:
    """A client for ``url`` (redis://, rediss:// or unix://); it connects on first use.
    ``timeout``: seconds a command may wait for its answer (None for a subscriber, which
    waits for messages as long as the channel is quiet)."""
    client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=timeout,
                                                     socket_connect_timeout=COMMAND_TIMEOUT)
    return client


class RedisPresence:
    """One process's view of the deployment's presence in Redis."""

    def __init__(self, url: str, prefix: str, process: str, ttl: float) -> None:
        self.url = url
        self.client = connect(url)
        self.prefix = prefix
        self.process = process
        self.ttl_ms = max(1, int(ttl * 1000))
        self.channel = f"{prefix}:presence"
        self._key = self._proc_key(process)

    def _proc_key(self, process: str) -> str:
        return f"{self.prefix}:proc:{process}"

    async def ping(self) -> None:
        """Raises ``SharedStateUnavailable`` unless Redis answers."""
        with _answered(f"connecting to {_where(self.client)}"):
            await self.client.ping()

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.client.aclose()

    async def put(self, entries: Mapping[str, Entry], contacts: Sequence[Pair] = ()) -> None:
        """Write these users' entries for this process and tell every other process."""
        with _answered("sharing presence"):
            await self._put(entries, contacts)

    async def _put(self, entries: Mapping[str, Entry], contacts: Sequence[Pair]) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            gone = [user for user, chats in entries.items() if chats is None]
            kept: dict[FieldT, EncodableT] = {user: _encode(chats) for user, chats in entries.items()
                                              if chats is not None}
            if gone:
                pipe.hdel(self._key, *gone)
            if kept:
                pipe.hset(self._key, mapping=kept)
            pipe.pexpire(self._key, self.ttl_ms)
            pipe.publish(self.channel, _message(self.process, entries, whole=False, contacts=contacts))
            await pipe.execute()

    async def replace(self, entries: Mapping[str, frozenset[str]]) -> None:
        """This process's whole state, written afresh (after Redis lost or expired it)."""
        with _answered("sharing presence"):
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key)
                if entries:
                    mapping: dict[FieldT, EncodableT] = {user: _encode(chats) for user, chats in entries.items()}
                    pipe.hset(self._key, mapping=mapping)
                    pipe.pexpire(self._key, self.ttl_ms)
                pipe.publish(self.channel, _message(self.process, dict(entries), whole=True))
                await pipe.execute()

    async def refresh(self) -> bool:
        """The heartbeat: keep this process's entries alive; False if they had expired."""
        with _answered("refreshing presence"):
            return bool(await self.client.pexpire(self._key, self.ttl_ms))

    async def remove(self) -> None:
        """A clean stop: this process's entries go at once, not when they expire."""
        with _answered("removing presence"):
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key)
                pipe.publish(self.channel, json.dumps({"p": self.process, "gone": True}))
                await pipe.execute()

    async def snapshot(self) -> Snapshot:
        """Every live process's entries (this one's included)."""
        found: Snapshot = {}
        marker = len(self._proc_key(""))
        with _answered("reading presence"):
            async for key in self.client.scan_iter(match=self._proc_key("*"), count=SCAN_COUNT):
                raw = await self.client.hgetall(key)
                entries = {str(user): _decode(str(value)) for user, value in raw.items()}
                found[key[marker:]] = {user: chats for user, chats in entries.items() if chats is not None}
        return found

    async def alive(self, processes: list[str]) -> set[str]:
        """Which of these processes still have entries (the others expired or left)."""
        if not processes:
            return set()
        with _answered("checking processes"):
            async with self.client.pipeline(transaction=False) as pipe:
                for process in processes:
                    pipe.exists(self._proc_key(process))
                answers = await pipe.execute()
        return {p for p, there in zip(processes, answers, strict=True) if there}

    async def follow(self) -> AsyncGenerator[Update, None]:
        """Other processes' changes, forever; ``Resubscribed`` first and after every reconnect.
        Close it (``contextlib.aclosing``) to hang up."""
        listener = connect(self.url, timeout=None)  # a quiet channel is no timeout
        try:
            outage = False
            while True:
                pubsub = listener.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self.channel)
                    if outage:
                        log.info("presence channel resubscribed")
                        outage = False
                    yield Resubscribed()
                    async for message in pubsub.listen():
                        update = _update(message.get("data"))
                        if update is not None and update.process != self.process:
                            yield update
                except (RedisError, OSError) as exc:
                    if not outage:
                        log.warning("presence channel interrupted (%s); resubscribing", type(exc).__name__)
                        outage = True
                finally:
                    await _quietly_close(pubsub)
                await asyncio.sleep(RETRY_DELAY)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await listener.aclose()


async def online_count(url: str, prefix: str) -> int:
    """Users with a socket on any live process of the deployment (``chatkit admin stats``)."""
    store = RedisPresence(url, prefix, "", 1.0)
    try:
        users: set[str] = set()
        for entries in (await store.snapshot()).values():
            users.update(entries)
        return len(users)
    finally:
        await store.close()


def _where(client: aioredis.Redis) -> str:
    """host:port of the client's Redis, never the URL (it may hold a password)."""
    kwargs = client.connection_pool.connection_kwargs
    place = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"
    return f"Redis at {place}"


def _encode(chats: frozenset[str]) -> str:
    return json.dumps(sorted(chats))


def _decode(value: str) -> Entry:
    try:
        chats = json.loads(value)
    except ValueError:
        return None
    return frozenset(str(c) for c in chats) if isinstance(chats, list) else None


def _message(process: str, entries: Mapping[str, Entry], *, whole: bool, contacts: Sequence[Pair] = ()) -> str:
    body = {user: None if chats is None else sorted(chats) for user, chats in entries.items()}
    return json.dumps({"p": process, "e": body, **({"whole": True} if whole else {}),
                       **({"c": [list(pair) for pair in contacts]} if contacts else {})})


def _update(data: Any) -> EntriesChanged | ProcessGone | None:
    """A message from the channel as a record; None for what no chatkit process wrote."""
    try:
        body = json.loads(data) if isinstance(data, str) else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("p"), str):
        return None
    if body.get("gone") is True:
        return ProcessGone(body["p"])
    entries = body.get("e")
    if not isinstance(entries, dict):
        return None
    decoded: dict[str, Entry] = {
        str(user): frozenset(str(c) for c in chats) if isinstance(chats, list) else None
        for user, chats in entries.items()
    }
    pairs = [(str(p[0]), str(p[1])) for p in body.get("c") or () if isinstance(p, list) and len(p) == 2]
    return EntriesChanged(body["p"], decoded, whole=body.get("whole") is True, contacts=tuple(pairs))


async def _quietly_close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except (RedisError, OSError):
        pass
