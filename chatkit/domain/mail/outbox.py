"""Writing an account mail to the outbox, before anything is sent.

The request that asked for the mail (register, login, send-otp) returns once the mail
is stored; the sender task delivers it. So an SMTP server that is slow or down never
slows or fails a request, and a mail is not lost to a crash or restart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chatkit.domain.mail.text import MailText
from chatkit.storage.database import Storage
from chatkit.storage.documents import MailDoc
from chatkit.storage.mails import QUEUED
from chatkit.wire import now


class MailOutbox:
    def __init__(self, storage: Storage, wake: Callable[[], None] | None = None) -> None:
        self.storage = storage
        self.wake = wake or (lambda: None)

    async def queue(self, to: str, kind: str, mail: MailText, expires_at: datetime) -> None:
        t = now()
        doc: MailDoc = {
            "to": to, "subject": mail.subject, "text": mail.text, "html": mail.html, "kind": kind,
            "status": QUEUED, "attempts": 0, "dueAt": t, "expiresAt": expires_at, "reason": None,
            "createdAt": t, "updatedAt": t,
        }
        await self.storage.mails.insert(doc)
        self.wake()
