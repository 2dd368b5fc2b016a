"""What one smoke user's client heard: every event kept in order, so a step can wait for
the one it expects while the others stay for later steps (nothing is lost or guessed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from chatkit.client import ChatClient, ChatEvent

E = TypeVar("E", bound=ChatEvent)


class Inbox:
    """Records ``client``'s events from its creation on, through a callback."""

    def __init__(self, client: ChatClient) -> None:
        self.events: list[ChatEvent] = []
        self._taken: set[int] = set()
        self._arrived = asyncio.Event()
        client.on(ChatEvent)(self._record)

    def _record(self, event: ChatEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def next(self, kind: type[E], match: Callable[[E], bool], timeout: float) -> E | None:
        """The oldest event of ``kind`` that ``match`` accepts and no step took yet,
        waiting up to ``timeout`` seconds for it; None if it never came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for index, event in enumerate(self.events):
                if index not in self._taken and isinstance(event, kind) and match(event):
                    self._taken.add(index)
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._arrived.clear()  # no await since the scan: nothing arrived in between
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass  # one last scan, then give up
