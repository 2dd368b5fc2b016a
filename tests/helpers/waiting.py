"""The one bounded poll: probe until a condition holds or a deadline passes.

:func:`wait_until` is for tests on the event loop; :func:`wait_until_sync` is its twin
for tests that drive real processes with blocking calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

TIMEOUT = 3.0
INTERVAL = 0.05


def _not_reached(what: str, timeout: float, value: Any) -> AssertionError:
    return AssertionError(f"{what} not reached within {timeout}s (last value {value!r})")


async def wait_until(probe: Callable[[], Awaitable[T]], *, until: Callable[[T], Any] = bool,
                     timeout: float = TIMEOUT, what: str = "condition", interval: float = INTERVAL) -> T:
    """Await ``probe()`` until ``until(value)`` holds (by default: the value is truthy);
    return that value. Fails with the last value seen once ``timeout`` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if until(value):
            return value
        if loop.time() >= deadline:
            raise _not_reached(what, timeout, value)
        await asyncio.sleep(interval)


def wait_until_sync(probe: Callable[[], T], *, until: Callable[[T], Any] = bool,
                    timeout: float = TIMEOUT, what: str = "condition", interval: float = INTERVAL) -> T:
    """:func:`wait_until` for blocking code: call ``probe()`` until ``until(value)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise _not_reached(what, timeout, value)
        time.sleep(interval)
