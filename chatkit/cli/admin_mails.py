"""``chatkit admin mails`` (what the mail outbox sent, is retrying or gave up) and
``chatkit admin users verify`` (confirm an account's email by hand).

A mail's body is never shown (it held a one-time code, and is erased once the mail is
settled): each mail shows its address, what it was for, status, attempts and reason.
"""

from __future__ import annotations

from typing import Optional

import typer

from chatkit.cli.common import admin_settings, run_with_services
from chatkit.cli.output import USAGE, emit_json, fail, json_mode, rows, say, shown_of
from chatkit.domain.mail.report import MailView
from chatkit.domain.views import user_view
from chatkit.services import Services
from chatkit.storage.documents import UserDoc
from chatkit.storage.mails import STATUSES


def register(app: typer.Typer, users_app: typer.Typer) -> None:
    app.command("mails")(mails)
    users_app.command("verify")(users_verify)


def mails(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, metavar="STATUS",
                                         help=f"Only mails in this status: {', '.join(STATUSES)}"),
    limit: int = typer.Option(50, min=1, max=1000, show_default=True, help="At most this many, newest first"),
) -> None:
    """List account mails (verification and sign-in codes), newest first: status, tries, reasons."""
    if status is not None and status not in STATUSES:
        fail(f"unknown mail status {status!r}: use one of {', '.join(STATUSES)}", USAGE)

    async def action(s: Services) -> tuple[list[MailView], int]:
        return await s.mail_report.recent(status, limit)

    found, total = run_with_services(admin_settings(ctx), action)
    if json_mode():
        emit_json({"total": total, "mails": found})
        return
    rows(("created", "to", "kind", "status", "tries", "reason"),
         [(m["createdAt"], m["to"], m["kind"], m["status"], m["attempts"], m["reason"]) for m in found],
         keep=("to",))
    shown_of(len(found), total, "mails")


def users_verify(ctx: typer.Context, user: str = typer.Argument(..., metavar="USER", help="Email or id")) -> None:
    """Mark a user's email verified: they can log in with their password without a code."""

    async def action(s: Services) -> UserDoc:
        return await s.email_access.mark_verified(await s.accounts.find_user(user))

    updated = run_with_services(admin_settings(ctx), action)
    if json_mode():
        emit_json(user_view(updated))
        return
    say(f"verified {updated['email']}")
