"""``chatkit admin pushes``: what the outbox queued, sent, failed or only recorded.

Device tokens are never shown: each push says how many devices it was meant for and
how many it reached (the table's "devices", e.g. 1/2), and with --json how many tokens
were removed or refused, with the reason. Users are named by email.
"""

from __future__ import annotations

from typing import Optional

import typer

from chatkit.cli.common import ALL, admin_settings, run_with_services
from chatkit.cli.output import USAGE, emit_json, fail, json_mode, rows, shown_of
from chatkit.domain.push.report import PushView
from chatkit.services import Services
from chatkit.storage.pushes import STATUSES


def register(app: typer.Typer) -> None:
    app.command("pushes")(pushes)


def pushes(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, metavar="USER", help="Only pushes to this user (email or id)"),
    status: Optional[str] = typer.Option(None, metavar="STATUS",
                                         help=f"Only pushes in this status: {', '.join(STATUSES)}"),
    limit: int = typer.Option(50, min=1, max=1000, show_default=True, help="At most this many, newest first"),
    every: bool = ALL,
) -> None:
    """List push notifications, newest first: status, devices reached, attempts, reasons."""
    if status is not None and status not in STATUSES:
        fail(f"unknown push status {status!r}: use one of {', '.join(STATUSES)}", USAGE)

    async def action(s: Services) -> tuple[list[PushView], int, dict[str, str]]:
        who = await s.accounts.find_user(user) if user is not None else None
        found, total = await s.push_report.recent(who["_id"] if who else None, status, limit, every=every)
        people = await s.storage.users.by_ids(list({p["userId"] for p in found if p["userId"]}), {"email": 1})
        return found, total, {str(k): str(v.get("email", k)) for k, v in people.items()}

    found, total, emails = run_with_services(admin_settings(ctx), action)
    if json_mode():
        emit_json({"total": total, "pushes": found})
        return
    rows(("created", "user", "status", "devices", "tries", "reason"),
         [(r["createdAt"], emails.get(str(r["userId"]), str(r["userId"])), r["status"],
           f"{r['delivered']}/{r['tokenCount']}", r["attempts"], r["reason"]) for r in found],
         keep=("user",))
    shown_of(len(found), total, "pushes")
