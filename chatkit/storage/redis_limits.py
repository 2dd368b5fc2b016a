"""Rate-limit and login-throttle buckets in Redis, shared by every chatkit process of a deployment.

One hash per bucket, ``<prefix>:<limit>:<key>`` with its level ``l`` and the time ``t``
it was computed at, updated by one Lua script: read, drain, compare, add, all atomic
in Redis, so two processes taking from one bucket at once never both get the last
slot. The time is Redis's own (``TIME``), one clock for all processes. Each hash
expires once it would have drained empty, so idle buckets cost nothing.

The rules (which limits, which keys, what a refusal says) are the domain's
(``chatkit.domain.limits``); this module only keeps buckets. A Redis that does not
answer within ``TIMEOUT`` is reported as None ("could not tell"), never an exception.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

from redis import asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

TIMEOUT = 1.0  # seconds a check may wait on Redis before the request goes on unchecked

# Shared by the scripts: a bucket's drained level at Redis's time ``t`` (nil when not
# held), and storing one that expires once it would have drained empty.
LEVEL = """
local function level_of(key, rate, t)
  local held = redis.call('HMGET', key, 'l', 't')
  if not held[1] then
    return nil
  end
  return math.max(0, tonumber(held[1]) - (t - tonumber(held[2])) * rate)
end
local function store(key, level, rate, t)
  local ttl = math.ceil(level / rate * 1000) + 1000
  redis.call('HSET', key, 'l', tostring(level), 't', tostring(t))
  redis.call('PEXPIRE', key, ttl)
  return ttl
end
local clock = redis.call('TIME')
local t = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
"""

# KEYS[1]: the bucket. ARGV: per_second, burst. Returns "0" when one more fitted (and is
# now counted), else the seconds until it would fit. Strings: Lua numbers come back
# from Redis as integers, and fractions of a second matter here.
TAKE = LEVEL + """
local rate = tonumber(ARGV[1])
local level = level_of(KEYS[1], rate, t) or 0
local over = level + 1 - tonumber(ARGV[2])
if over > 1e-9 then
  return tostring(over / rate)
end
store(KEYS[1], level + 1, rate, t)
return '0'
"""


class Shape(Protocol):
    """A bucket's shape (the domain's ``Rate``)."""

    @property
    def per_second(self) -> float: ...

    @property
    def burst(self) -> int: ...


def connect(url: str) -> aioredis.Redis:
    """A client for ``url`` that gives up within ``TIMEOUT``; it connects on first use."""
    client: aioredis.Redis = aioredis.Redis.from_url(
        url, decode_responses=True, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    return client


class RedisBuckets:
    """The domain's ``BucketStore`` on Redis."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(TAKE)

    async def take(self, key: str, rate: Shape) -> float | None:
        try:
            async with asyncio.timeout(TIMEOUT):
                reply = await self._take(keys=[f"{self.prefix}:{key}"], args=[repr(rate.per_second), rate.burst])
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("rate-limit bucket %s not checked: %s", key, type(exc).__name__)
            return None
        return float(reply)

    async def close(self) -> None:
        await self.client.aclose()


# --- the login throttle's buckets (``chatkit.domain.throttle``) --------------------------------

# KEYS[1..n]: buckets; KEYS[n+1], when given: the account's index of its pair buckets,
# which gets ARGV[2n+2] (the pair bucket's key). ARGV[1] = n, then per bucket its rate
# and burst. All buckets take one, or none does: returns "0", or the seconds to wait.
ADMIT = LEVEL + """
local n = tonumber(ARGV[1])
local levels = {}
local wait = 0
for i = 1, n do
  local rate = tonumber(ARGV[2 * i])
  levels[i] = level_of(KEYS[i], rate, t) or 0
  local over = levels[i] + 1 - tonumber(ARGV[2 * i + 1])
  if over > 1e-9 and over / rate > wait then
    wait = over / rate
  end
end
if wait > 0 then
  return tostring(wait)
end
local longest = 0
for i = 1, n do
  longest = math.max(longest, store(KEYS[i], levels[i] + 1, tonumber(ARGV[2 * i]), t))
end
if #KEYS > n then
  redis.call('SADD', KEYS[n + 1], ARGV[2 * n + 2])
  if redis.call('PTTL', KEYS[n + 1]) < longest then
    redis.call('PEXPIRE', KEYS[n + 1], longest)
  end
end
return '0'
"""

# KEYS: buckets; ARGV[1]: the amount to take out, then each bucket's rate.
REFUND = LEVEL + """
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  local rate = tonumber(ARGV[i + 1])
  local level = level_of(KEYS[i], rate, t)
  if level then
    store(KEYS[i], math.max(0, level - amount), rate, t)
  end
end
return 0
"""

# KEYS[1]: a bucket, ARGV[1]: its rate. Returns its level (a string), or nil if not held.
POP = LEVEL + """
local level = level_of(KEYS[1], tonumber(ARGV[1]), t)
if not level then
  return false
end
redis.call('DEL', KEYS[1])
return tostring(level)
"""

# KEYS[1]: the account's bucket, KEYS[2]: its index of pair buckets. Returns how many
# buckets were held.
FORGET = """
local held = redis.call('DEL', KEYS[1])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  held = held + redis.call('DEL', key)
end
redis.call('DEL', KEYS[2])
return held
"""

Key = tuple[str, ...]
Bucket = tuple[Key, Shape]


class RedisThrottle:
    """The domain's ``ThrottleStore`` on Redis: each bucket a hash as above, named by its
    key's parts (escaped, so an IPv6 address or an odd email cannot run into the next
    part); for ``forget`` without a SCAN, each account has a set of its pair buckets.
    A Redis that does not answer raises ``ConnectionError``."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.prefix = prefix
        self._admit = client.register_script(ADMIT)
        self._refund = client.register_script(REFUND)
        self._pop = client.register_script(POP)
        self._forget = client.register_script(FORGET)

    async def admit(self, buckets: Sequence[Bucket]) -> float:
        keys = [self._name(key) for key, _ in buckets]
        args: list[str | int] = [len(buckets)]
        for _, rate in buckets:
            args += [repr(rate.per_second), rate.burst]
        for key, _ in buckets:
            if key[0] == "pair":  # ("pair", client, email): indexed under its email
                keys.append(self._index(key[-1]))
                args.append(self._name(key))
        return float(await self._call(self._admit, keys, args))

    async def refund(self, buckets: Sequence[Bucket], amount: float) -> None:
        await self._call(self._refund, [self._name(key) for key, _ in buckets],
                         [repr(amount), *(repr(rate.per_second) for _, rate in buckets)])

    async def pop(self, bucket: Bucket) -> float | None:
        level = await self._call(self._pop, [self._name(bucket[0])], [repr(bucket[1].per_second)])
        return None if level is None else float(level)

    async def forget(self, email: str) -> bool:
        return bool(await self._call(self._forget, [self._name(("account", email)), self._index(email)], []))

    def _name(self, key: Key) -> str:
        return ":".join([self.prefix, *(quote(part, safe="@.") for part in key)])

    def _index(self, email: str) -> str:
        return self._name(("pairs-of", email))

    async def _call(self, script: AsyncScript, keys: list[str], args: Sequence[str | int]) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT):
                return await script(keys=keys, args=list(args))
        except (RedisError, OSError, TimeoutError) as exc:
            raise ConnectionError(f"Redis: {type(exc).__name__}") from exc
