"""The sender: a background task that drains the outbox through a push backend.

It claims one due push at a time (atomically, with a lease, so several servers can
share one database and a sender that dies mid-send leaves its push to be claimed again
once the lease lapses), sends it to the recipient's devices that are still logged in,
and records the outcome: ``sent``; queued again with exponential backoff (or the
service's ``Retry-After``) for the devices that failed transiently; ``failed`` with
the reason once nothing more can be done. Tokens the service reports unregistered or
invalid are removed from their sessions. A few pushes are in flight at once.

Started by the server, it first takes whatever an earlier run left queued. Stopping
gives pushes in flight a grace period, then hands the rest back to the queue, so a push
caught by a shutdown goes out after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta

from chatkit.domain.claims import Claims
from chatkit.domain.push.backends import Notification, PushBackend, TokenOutcome
from chatkit.storage.database import Storage
from chatkit.storage.documents import PushDoc, Query
from chatkit.storage.pushes import FAILED, QUEUED, RECORDED, SENT
from chatkit.wire import now

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # 1 + 2 + 4 + ... + 512 + 600 s: about half an hour before a push is given up
BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time
BACKOFF_CAP = 600.0
RETRY_AFTER_CAP = 86400.0
LEASE = timedelta(minutes=5)  # longer than a send can take (token fetch + FCM, each timed out)
POLL = 0.5  # seconds between looks for work queued by other processes, or coming due
SLOTS = 4  # pushes in flight at once
REASON_LIMIT = 300
RELEASE_WAIT = 1.0  # seconds a stopping sender waits for pushes it interrupted to go back in the queue


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempts + 1``: doubling, with jitter so that many
    pushes failed by one outage do not all retry at the same instant."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(1.0, 1.25)
    return float(max(delay, min(retry_after or 0.0, RETRY_AFTER_CAP)))


class PushSender:
    def __init__(self, storage: Storage, backend: PushBackend, *, slots: int = SLOTS, poll: float = POLL) -> None:
        self.storage = storage
        self.backend = backend
        self.poll = poll
        self._slots = asyncio.Semaphore(slots)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._claiming = False
        self._claims = Claims(storage.pushes, LEASE, log, what="push", waiting="pushes")
        self._loop: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self.backend.start()
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="chatkit-push-sender")

    def wake(self) -> None:
        """A push was just queued: look now rather than at the next poll."""
        self._wakeup.set()

    async def stop(self, grace: float) -> None:
        """Claim nothing more; give pushes in flight what is left of ``grace`` seconds, then
        put them back in the queue. Ends within about ``grace`` + ``RELEASE_WAIT`` seconds
        whatever the database or the push service do."""
        if self._loop is None:
            return
        clock = asyncio.get_running_loop().time
        deadline = clock() + grace
        self._stopping = True
        self._wakeup.set()
        if not self._claiming:  # waiting for work or a free slot: safe to interrupt
            self._loop.cancel()
        # A claim under way is let finish (its push then joins those in flight); one stuck
        # on an unreachable database is cancelled at the deadline and lapses by itself.
        await asyncio.wait({self._loop}, timeout=max(0.0, deadline - clock()))
        self._loop.cancel()
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=max(0.0, deadline - clock()))
            for task in pending:
                task.cancel()  # each puts its push back in the queue as it unwinds
            if pending:
                await asyncio.wait(pending, timeout=RELEASE_WAIT)
        self._loop = None
        await asyncio.wait({asyncio.ensure_future(self.backend.close())}, timeout=RELEASE_WAIT)

    async def _run(self) -> None:
        while not self._stopping:
            await self._slots.acquire()
            self._wakeup.clear()
            push: PushDoc | None = None
            if not self._stopping:
                self._claiming = True
                try:
                    push = await self._claims.next()
                finally:
                    self._claiming = False
            if push is None:
                self._slots.release()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll)
                continue
            task = asyncio.create_task(self._handle(push), name=f"chatkit-push-{push['_id']}")
            self._inflight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _handle(self, push: PushDoc) -> None:
        try:
            targets, outcomes = await self._deliver(push)
            await self._settle(push, targets, outcomes)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # best effort; else the lease lapses
                await asyncio.shield(self.storage.pushes.release(push, now()))
            raise
        except Exception:
            log.exception("push %s: could not record the outcome; it is retried when its claim lapses",
                          push["_id"])

    async def _deliver(self, push: PushDoc) -> tuple[list[str], list[TokenOutcome]]:
        """Send to those of its devices that are still logged in to the recipient's account."""
        current = set(await self.storage.sessions.push_tokens(push["userId"]))
        targets = [t for t in push.get("tokens", []) if t in current]
        if not targets:
            return targets, []
        note = Notification(title=push.get("title", ""), body=push.get("body", ""), data=push.get("data", {}),
                            collapse_key=str(push.get("chatId", push["_id"])), image=push.get("image"))
        try:
            return targets, await self.backend.deliver(note, targets)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a backend fault is treated as transient: retried, then given up
            log.exception("push %s: %s backend failed", push["_id"], self.backend.name)
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:REASON_LIMIT]
            return targets, [TokenOutcome(t, "retry", reason) for t in targets]

    async def _settle(self, push: PushDoc, targets: list[str], outcomes: list[TokenOutcome]) -> None:
        gone = [o.token for o in outcomes if o.result == "gone"]
        if gone:
            await self.storage.sessions.drop_push_tokens(gone)
        retry = [o for o in outcomes if o.result == "retry"]
        sent = sum(o.result == "sent" for o in outcomes)
        rejected = sum(o.result == "rejected" for o in outcomes)
        reason = "; ".join(dict.fromkeys(o.reason for o in outcomes if o.result != "sent" and o.reason)) or None
        attempts = push.get("attempts", 1)
        t = now()
        fields: Query = {"updatedAt": t, "reason": reason}
        if not self.backend.sends:
            fields.update(status=RECORDED, finishedAt=t)
        elif retry and attempts < MAX_ATTEMPTS:
            delay = backoff(attempts, max((o.retry_after or 0.0) for o in retry))
            fields.update(status=QUEUED, tokens=[o.token for o in retry], dueAt=t + timedelta(seconds=delay))
        else:
            if retry:
                reason = f"gave up after {attempts} attempts: {reason}"
            elif not targets:
                reason = "no device to send to (no logged-in session has a push token)"
            delivered = push.get("delivered", 0) + sent
            fields.update(status=SENT if delivered else FAILED, tokens=[], finishedAt=t, reason=reason)
        if reason is not None:
            fields["reason"] = reason[:REASON_LIMIT]
        settled = await self.storage.pushes.settle(push, fields, {"delivered": sent, "removed": len(gone),
                                                                  "rejected": rejected})
        status = fields["status"]
        if not settled:
            log.warning("push %s: its claim lapsed before it was settled (%s)", push["_id"], status)
        elif status in (FAILED, QUEUED) or gone:
            log.info("push %s to user %s: %s, %d of %d device(s) reached, %d token(s) removed%s",
                     push["_id"], push["userId"], status, sent, len(targets), len(gone),
                     f" ({fields['reason']})" if fields.get("reason") else "")
