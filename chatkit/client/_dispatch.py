"""One dispatcher feeds both ways of consuming events: callbacks and ``events()``.

Socket handlers only *publish* (a non-blocking put); one pump task then runs the
callbacks in registration order and queues the event for ``events()``. So a slow
consumer never stalls the socket's read loop (which would delay acks and pings),
and every consumer sees events in the order the client produced them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from chatkit.client._events import ChatEvent

log = logging.getLogger("chatkit.client")

E = TypeVar("E", bound=ChatEvent)
Callback = Callable[[E], Awaitable[None] | None]
CLOSE_GRACE = 2.0  # seconds callbacks get to finish the events already published


class _End:
    """Marks the end of the stream for ``events()`` iterators."""


_END = _End()


class Dispatcher:
    def __init__(self, *, queue_events: bool) -> None:
        self._callbacks: list[tuple[type[ChatEvent], Callable[[Any], Any]]] = []
        self._inbox: asyncio.Queue[ChatEvent | _End] = asyncio.Queue()
        self._stream: asyncio.Queue[ChatEvent | _End] = asyncio.Queue()
        self._queue_events = queue_events
        self._pump: asyncio.Task[None] | None = None

    def add(self, kind: type[E], callback: Callback[E]) -> None:
        self._callbacks.append((kind, callback))

    def remove(self, kind: type[E], callback: Callback[E]) -> None:
        self._callbacks = [(k, c) for k, c in self._callbacks if (k, c) != (kind, callback)]

    def publish(self, event: ChatEvent) -> None:
        self._put(event)

    def end_stream(self) -> None:
        """``events()`` iterations end once they reach this point; later events start a new one."""
        self._put(_END)

    def _put(self, item: ChatEvent | _End) -> None:
        self._inbox.put_nowait(item)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._run(), name="chatkit-client-events")

    async def _run(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if isinstance(item, ChatEvent):
                    await self._call_back(item)
                if self._queue_events or isinstance(item, _End):
                    self._stream.put_nowait(item)
            finally:
                self._inbox.task_done()

    async def _call_back(self, event: ChatEvent) -> None:
        for kind, callback in list(self._callbacks):
            if not isinstance(event, kind):
                continue
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # one consumer's bug must not silence the others
                log.exception("callback %r failed on %s", callback, type(event).__name__)

    async def stream(self) -> AsyncIterator[ChatEvent]:
        while True:
            item = await self._stream.get()
            if isinstance(item, _End):
                return
            yield item

    async def aclose(self) -> None:
        """End the stream after what was published, give callbacks a moment to finish, stop."""
        self.end_stream()
        try:
            await asyncio.wait_for(self._inbox.join(), CLOSE_GRACE)
        except TimeoutError:
            log.warning("event callbacks still busy at close; stopping them")
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
