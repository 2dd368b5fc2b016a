"""``chatkit admin pushes``: what the outbox queued, sent, failed or only recorded.

Device tokens are never shown: each push says how many devices it was meant for and
how many it reached (the table's "devices", e.g. 1/2), and with --json how many tokens
were removed or refused, with the reason.
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich import box
from rich.table import Column, Table

from chatkit.cli.common import JSON, admin_settings, console, emit_json, run_with_services
from chatkit.domain.push.report import PushView
from chatkit.services import Services
from chatkit.storage.pushes import STATUSES


def register(app: typer.Typer) -> None:
    app.command("pushes")(pushes)


def pushes(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, help="Only pushes to this user (email or id)"),
    status: Optional[str] = typer.Option(None, help=f"Only pushes in this status: {', '.join(STATUSES)}"),
    limit: int = typer.Option(50, min=1, max=1000, help="At most this many, newest first"),
    as_json: bool = JSON,
) -> None:
    """List push notifications, newest first: status, devices reached, attempts, reasons."""

    async def action(s: Services) -> tuple[list[PushView], int]:
        who = await s.accounts.find_user(user) if user is not None else None
        return await s.push_report.recent(who["_id"] if who else None, status, limit)

    rows, total = run_with_services(admin_settings(ctx), action)
    if as_json:
        emit_json({"total": total, "pushes": rows})
        return
    # Fits 80 columns with the user id whole (it is copied into the next command) and the
    # reason folded; the message count and the times are in --json.
    table = Table(
        Column("created", no_wrap=True), Column("user", no_wrap=True, min_width=24),
        Column("status", no_wrap=True), Column("devices", no_wrap=True), Column("tries", justify="right"),
        Column("reason", overflow="fold", min_width=12),
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True,
    )
    for r in rows:
        table.add_row(_time(r["createdAt"]), str(r["userId"]), r["status"], f"{r['delivered']}/{r['tokenCount']}",
                      str(r["attempts"]), r["reason"] or "-")
    console.print(table)
    if total > len(rows):
        console.print(f"{len(rows)} of {total} pushes shown")


def _time(value: Any) -> str:
    return value.strftime("%m-%d %H:%M") if value is not None else "-"
