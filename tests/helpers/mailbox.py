"""A real SMTP server in the test process (aiosmtpd) that keeps every mail it receives.

It listens on a loopback port picked when this module is imported, so tests can name
its URL in ``settings`` overrides (``MAIL``) at collection time; the ``mailbox``
fixture runs it for the session. ``refuse`` makes it answer a permanent 550, to see
what chatkit does with a mail that cannot be delivered.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from chatkit.mongod import free_port
from tests.helpers.waiting import wait_until

SMTP_PORT = free_port()
SMTP_URL = f"smtp://127.0.0.1:{SMTP_PORT}"
MAIL: dict[str, Any] = {"smtp_url": SMTP_URL, "mail_from": "chatkit <no-reply@example.com>"}
"""``settings`` overrides for a server that mails through the test SMTP server."""
CODE = re.compile(r"\b(\d{6})\b")


@dataclass(frozen=True)
class Mail:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, f"no text/{subtype} part"
        return str(body.get_content())

    @property
    def code(self) -> str:
        found = CODE.search(self.part("plain"))
        assert found is not None, f"no code in {self.part('plain')!r}"
        return found[1]


class Mailbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []
        self.refuse = False
        self._controller = Controller(self, hostname="127.0.0.1", port=SMTP_PORT)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        if self.refuse:
            return "550 mailbox unavailable"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self._mails if address.lower() in (a.lower() for a in m.to)]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 5.0) -> list[Mail]:
        """The mails to ``address`` once there are at least ``count``, oldest first."""
        async def probe() -> list[Mail]:
            return self.to(address)

        return await wait_until(probe, until=lambda found: len(found) >= count, timeout=timeout,
                                what=f"{count} mail(s) to {address}")
