"""Rate-limit buckets in Redis, shared by every chatkit process of a deployment.

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
from typing import Protocol

from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

TIMEOUT = 1.0  # seconds a check may wait on Redis before the request goes on unchecked

# KEYS[1]: the bucket. ARGV: per_second, burst. Returns "0" when one more fitted (and is
# now counted), else the seconds until it would fit. Strings: Lua numbers come back
# from Redis as integers, and fractions of a second matter here.
TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'l', 't')
local level = 0
if held[1] then
  level = math.max(0, tonumber(held[1]) - (t - tonumber(held[2])) * rate)
end
local over = level + 1 - burst
if over > 1e-9 then
  return tostring(over / rate)
end
level = level + 1
redis.call('HSET', KEYS[1], 'l', tostring(level), 't', tostring(t))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate * 1000) + 1000)
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
