"""Sending one mail over SMTP (aiosmtplib), configured by ``CHATKIT_SMTP_URL``.

``smtp://user:password@host:port`` speaks plain SMTP and upgrades with STARTTLS when
the server offers it; ``smtps://`` speaks TLS from the first byte (port 465 by
default). A refusal with a 5xx reply is permanent (the mail is given up); anything
else (a 4xx reply, a timeout, a refused connection) is worth a retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

TIMEOUT = 30.0  # seconds one SMTP conversation may take
REASON_LIMIT = 300


class MailError(Exception):
    """A send that did not go through; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:REASON_LIMIT]
        self.permanent = permanent


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: bool  # TLS from the start (smtps://); else STARTTLS when offered
    username: str | None
    password: str | None
    sender: str  # the From header and envelope

    @classmethod
    def from_url(cls, url: str, mail_from: str | None) -> SmtpConfig:
        """Parse an SMTP URL (already checked by the settings)."""
        parts = urlsplit(url)
        tls = parts.scheme == "smtps"
        host = parts.hostname or "localhost"
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if mail_from is None:
            mail_from = username if username and "@" in username else f"chatkit <no-reply@{host}>"
        return cls(host, parts.port or (465 if tls else 25), tls, username, password, mail_from)


class SmtpTransport:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, to: str, subject: str, text: str, html: str) -> None:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.config.host)
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        c = self.config
        try:
            await aiosmtplib.send(message, hostname=c.host, port=c.port, username=c.username, password=c.password,
                                  use_tls=c.tls, start_tls=None if not c.tls else False, timeout=TIMEOUT)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise MailError(f"recipient refused: {_first_line(exc)}", permanent=all(c >= 500 for c in codes)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise MailError(f"SMTP {exc.code}: {_first_line(exc.message)}", permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError) as exc:  # connect, timeout, TLS, disconnect
            raise MailError(f"{type(exc).__name__}: {_first_line(exc)}", permanent=False) from None


def _first_line(value: object) -> str:
    text = str(value)
    return text.splitlines()[0] if text else ""
