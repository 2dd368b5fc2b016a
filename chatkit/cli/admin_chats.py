"""``chatkit admin block|unblock|clear`` and ``chatkit admin chats list``.

They call the same domain rules as the apps do; real-time effects (a block's ``Label``
line) are relayed through the database to any running server.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from chatkit.cli.common import JSON, admin_settings, console, emit_json, fail, run_with_services
from chatkit.domain.inputs import parse_id
from chatkit.domain.listings import ChatOverview
from chatkit.domain.views import View, chat_overview_view
from chatkit.services import Services
from chatkit.storage.documents import UserDoc

chats_app = typer.Typer(help="Inspect chats.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("block")(block)
    app.command("unblock")(unblock)
    app.command("clear")(clear)
    app.add_typer(chats_app, name="chats")



def _set_block(ctx: typer.Context, user: str, other: str, blocked: bool, as_json: bool) -> None:
    async def action(s: Services) -> tuple[UserDoc, UserDoc, View]:
        a = await s.accounts.find_user(user)
        b = await s.accounts.find_user(other)
        return a, b, await s.blocks.set_block(a["_id"], b["_id"], blocked)

    a, b, flags = run_with_services(admin_settings(ctx), action)
    if as_json:
        emit_json({"user": str(a["_id"]), "other": str(b["_id"]), **flags})
    else:
        console.print(f"{a['email']} {'blocks' if blocked else 'no longer blocks'} {b['email']}")


def block(ctx: typer.Context, user: str = typer.Argument(..., help="Who blocks (email or id)"),
          other: str = typer.Argument(..., help="Who is blocked (email or id)"), as_json: bool = JSON) -> None:
    """USER blocks OTHER: neither can message the other any more."""
    _set_block(ctx, user, other, True, as_json)


def unblock(ctx: typer.Context, user: str = typer.Argument(..., help="Who unblocks (email or id)"),
            other: str = typer.Argument(..., help="Who is unblocked (email or id)"), as_json: bool = JSON) -> None:
    """USER lifts their block of OTHER."""
    _set_block(ctx, user, other, False, as_json)


def clear(
    ctx: typer.Context,
    chat: str = typer.Argument(..., help="Chat id"),
    for_user: Optional[str] = typer.Option(None, "--for", help="Clear it as this participant would (email or id)"),
    all_: bool = typer.Option(False, "--all", help="Delete the chat and all its messages for both users"),
    as_json: bool = JSON,
) -> None:
    """Clear a chat on behalf of one participant (--for), or delete it for both (--all)."""
    if (for_user is None) == (not all_):
        fail("give exactly one of --for USER and --all")

    async def action(s: Services) -> str:
        chat_id = parse_id(chat, "chat id")
        if all_:
            await s.clearing.delete_chat(chat_id)
            return "deleted"
        user = await s.accounts.find_user(for_user or "")
        return await s.clearing.clear_chat(user["_id"], chat_id)

    outcome = run_with_services(admin_settings(ctx), action)
    if as_json:
        emit_json({"chat": chat, "outcome": outcome})
    else:
        console.print(f"chat {chat} {outcome}")


@chats_app.command("list")
def chats_list(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, help="Only chats of this user (email or id)"),
    page: int = typer.Option(1, min=1),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """List chats with their participants and last activity."""

    async def action(s: Services) -> ChatOverview:
        who = await s.accounts.find_user(user) if user is not None else None
        return await s.listings.chats_overview(who["_id"] if who else None, page=page, limit=limit)

    overview = run_with_services(admin_settings(ctx), action)
    total = overview.total
    rows = [chat_overview_view(c, overview.people) for c in overview.chats]
    if as_json:
        emit_json({"total": total, "chats": rows})
        return
    table = Table("id", "participants", "last message", "cleared by")
    table.columns[0].min_width = 24
    for r in rows:
        table.add_row(r["_id"], ", ".join(p["email"] or p["_id"] for p in r["participants"]),
                      (r["lastMessageAt"] or "-")[:19], r["clearedBy"] or "-")
    console.print(table)
    if total > len(rows):
        console.print(f"{len(rows)} of {total} chats shown")
