"""The mail sender: a background task that drains the ``mails`` outbox over SMTP.

Built like the push sender: it claims one due mail at a time, atomically and with a
lease (several servers may share a database; a sender that dies mid-send leaves the
mail to be claimed again), sends it, and records the outcome: ``sent``; queued again
after 1, 2, 4, ... seconds for a transient failure; ``failed`` with the reason for a
permanent refusal, after the last attempt, or once the code in it has expired (a late
code is useless). Stopping gives a send in flight the grace period, then puts the mail
back in the queue for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import timedelta
from typing import Protocol

from chatkit.domain.claims import Claims
from chatkit.domain.mail.smtp import MailError
from chatkit.storage.database import Storage
from chatkit.storage.documents import MailDoc, Query
from chatkit.storage.mails import FAILED, QUEUED, SENT
from chatkit.wire import now

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # 1 + 2 + ... + 64 s: a bit over two minutes, well inside a code's life
BACKOFF_BASE = 1.0
LEASE = timedelta(minutes=2)  # longer than one SMTP conversation may take
POLL = 0.5  # seconds between looks for mails queued by other processes, or coming due
RELEASE_WAIT = 1.0


class Transport(Protocol):
    async def send(self, to: str, subject: str, text: str, html: str) -> None: ...


def backoff(attempts: int) -> float:
    return float(BACKOFF_BASE * 2 ** max(0, attempts - 1) * random.uniform(1.0, 1.25))


class MailSender:
    def __init__(self, storage: Storage, transport: Transport | None, *, poll: float = POLL) -> None:
        self.storage = storage
        self.transport = transport  # None: no SMTP configured, the sender does not run
        self.poll = poll
        self._wakeup = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._current: asyncio.Task[None] | None = None
        self._stopping = False
        self._claims = Claims(storage.mails, LEASE, log, what="mail", waiting="mails")

    @property
    def enabled(self) -> bool:
        return self.transport is not None

    async def start(self) -> None:
        if self.transport is None:
            return
        self._stopping = False
        self._loop = asyncio.create_task(self._run(), name="chatkit-mail-sender")

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self, grace: float) -> None:
        """Claim nothing more; give a send in flight ``grace`` seconds, then requeue it."""
        if self._loop is None:
            return
        self._stopping = True
        self._wakeup.set()
        current = self._current
        if current is not None:
            await asyncio.wait({current}, timeout=grace)
            current.cancel()  # puts its mail back in the queue as it unwinds
            await asyncio.wait({current}, timeout=RELEASE_WAIT)
        self._loop.cancel()
        await asyncio.wait({self._loop}, timeout=RELEASE_WAIT)
        self._loop = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            mail = await self._claims.next()
            if mail is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll)
                continue
            self._current = asyncio.create_task(self._handle(mail), name=f"chatkit-mail-{mail['_id']}")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._current)
            self._current = None

    async def _handle(self, mail: MailDoc) -> None:
        try:
            await self._settle(mail, await self._deliver(mail))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # best effort; else the lease lapses
                await asyncio.shield(self.storage.mails.release(mail, now()))
            raise
        except Exception:
            log.exception("mail %s: could not record the outcome; it is retried when its claim lapses", mail["_id"])

    async def _deliver(self, mail: MailDoc) -> MailError | None:
        assert self.transport is not None
        if mail["expiresAt"] <= now():
            return MailError("the code in it expired before it could be sent", permanent=True)
        try:
            await self.transport.send(mail["to"], mail["subject"], mail["text"], mail["html"])
        except MailError as exc:
            return exc
        return None

    async def _settle(self, mail: MailDoc, error: MailError | None) -> None:
        t = now()
        attempts = mail.get("attempts", 1)
        fields: Query = {"updatedAt": t}
        if error is None:
            fields.update(status=SENT, finishedAt=t, reason=None)
        elif error.permanent or attempts >= MAX_ATTEMPTS:
            reason = error.reason if error.permanent else f"gave up after {attempts} attempts: {error.reason}"
            fields.update(status=FAILED, finishedAt=t, reason=reason)
        else:
            fields.update(status=QUEUED, reason=error.reason, dueAt=t + timedelta(seconds=backoff(attempts)))
        if not await self.storage.mails.settle(mail, fields):
            log.warning("mail %s: its claim lapsed before it was settled (%s)", mail["_id"], fields["status"])
        elif error is not None:
            log.warning("mail %s: %s (%s)", mail["_id"], fields["status"], error.reason)
