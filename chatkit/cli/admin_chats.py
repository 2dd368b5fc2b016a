"""``chatkit admin block|unblock|clear`` and ``chatkit admin chats list``.

They call the same domain rules as the apps do; a running server picks the effects up
from the database (see ``chatkit.server.live_admin``).
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich.table import Table

from chatkit.cli.common import JSON, admin_settings, console, emit_json, fail, run_with_services
from chatkit.domain.messaging import parse_id
from chatkit.domain.views import full_name
from chatkit.server.context import Services
from chatkit.wire import iso

chats_app = typer.Typer(help="Inspect chats.", no_args_is_help=True)
Doc = dict[str, Any]


def register(app: typer.Typer) -> None:
    app.command("block")(block)
    app.command("unblock")(unblock)
    app.command("clear")(clear)
    app.add_typer(chats_app, name="chats")



def _set_block(ctx: typer.Context, user: str, other: str, blocked: bool, as_json: bool) -> None:
    async def action(s: Services) -> tuple[Doc, Doc, Doc]:
        a = await s.accounts.find_user(user)
        b = await s.accounts.find_user(other)
        return a, b, await s.messaging.set_block(a["_id"], b["_id"], blocked)

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
    try:
        chat_id = parse_id(chat, "chat id")
    except Exception as exc:
        fail(str(exc))

    async def action(s: Services) -> str:
        if all_:
            if await s.storage.chats.by_id(chat_id) is None:
                fail(f"no chat {chat}")
            await s.messaging.delete_chat(chat_id)
            return "deleted"
        user = await s.accounts.find_user(for_user or "")
        return await s.messaging.clear_chat(user["_id"], chat_id)

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

    async def action(s: Services) -> tuple[list[Doc], int, dict]:
        if user is not None:
            who = await s.accounts.find_user(user)
            chats, total = await s.storage.chats.of_user(who["_id"], (page - 1) * limit, limit)
        else:
            chats, total = await s.storage.chats.page_all((page - 1) * limit, limit)
        ids = list({p for c in chats for p in c["participants"]})
        people = await s.storage.users.by_ids(ids, {"firstName": 1, "lastName": 1, "email": 1})
        return chats, total, people

    chats, total, people = run_with_services(admin_settings(ctx), action)
    rows = [{
        "_id": str(c["_id"]),
        "participants": [{"_id": str(p), "email": people.get(p, {}).get("email"),
                          "fullName": full_name(people.get(p, {}))} for p in c["participants"]],
        "lastMessageAt": iso(c.get("lastMessageAt")),
        "clearedBy": str(c["clearedBy"]) if c.get("clearedBy") else None,
        "clearedAt": iso(c.get("clearedAt")),
        "createdAt": iso(c.get("createdAt")),
    } for c in chats]
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
