"""Claiming the next item of an outbox (``pushes``, ``mails``) for a sender.

Both senders take one due item at a time from a ``LeasedQueue`` and, while the database
does not answer, simply look again at their next poll. The log says so once when the
outbox goes away and once when it is back, never once per poll.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Generic

from chatkit.storage.leases import D, LeasedQueue
from chatkit.wire import now


class Claims(Generic[D]):
    def __init__(self, queue: LeasedQueue[D], lease: timedelta, log: logging.Logger, *, what: str,
                 waiting: str) -> None:
        self.queue = queue
        self.lease = lease
        self.log = log  # the sender's own logger
        self.what = what  # "push": the outbox as the log names it
        self.waiting = waiting  # "pushes": what waits while it is away
        self._unreachable = False

    async def next(self) -> D | None:
        """The most overdue item, now claimed for ``lease``; None if there is none or the
        database is away."""
        try:
            t = now()
            item = await self.queue.claim(t, t + self.lease)
        except Exception as exc:  # the database is away: look again later, say so once
            if not self._unreachable:
                self._unreachable = True
                self.log.warning("%s outbox unavailable (%s); %s wait", self.what, type(exc).__name__, self.waiting)
            return None
        if self._unreachable:
            self._unreachable = False
            self.log.info("%s outbox reachable again", self.what)
        return item
