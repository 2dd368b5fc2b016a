"""``chatkit admin block|unblock|clear`` and ``chatkit admin chats list``.

They call the same domain rules as the apps do; real-time effects (a block's ``Label``
line) are relayed through the database to any running server. Participants are named
by email; an action that is already so (a block that exists) says so and exits 0.
"""

from __future__ import annotations

from typing import Optional

import typer

from chatkit.cli.common import (
    ALL,
    DRY_RUN,
    EVERY_PAGE,
    YES,
    admin_settings,
    audit,
    confirm,
    dry_run_report,
    run_with_services,
)
from chatkit.cli.groups import AdminGroup, global_options
from chatkit.cli.output import USAGE, emit_json, fail, json_mode, note, rows, say, shown_of
from chatkit.domain.errors import NotFound
from chatkit.domain.inputs import parse_id
from chatkit.domain.listings import ChatOverview
from chatkit.domain.views import chat_overview_view
from chatkit.services import Services
from chatkit.storage.documents import ChatDoc, UserDoc
from chatkit.storage.inventory import chat_contents

chats_app = typer.Typer(cls=AdminGroup, help="Inspect chats.", no_args_is_help=True)
chats_app.callback()(global_options)
CHAT = typer.Argument(..., metavar="CHAT", help="Chat id")


def register(app: typer.Typer) -> None:
    app.command("block")(block)
    app.command("unblock")(unblock)
    app.command("clear")(clear)
    app.add_typer(chats_app, name="chats")


def _set_block(ctx: typer.Context, user: str, other: str, blocked: bool) -> None:
    settings = admin_settings(ctx)

    async def action(s: Services) -> tuple[UserDoc, UserDoc, bool, dict[str, object]]:
        a = await s.accounts.find_user(user)
        b = await s.accounts.find_user(other)
        already = (b["_id"] in a.get("blockedUsers", [])) == blocked
        flags = await s.blocks.set_block(a["_id"], b["_id"], blocked)
        if not already:
            audit(s.settings, "block" if blocked else "unblock", a["email"], other=b["email"])
        return a, b, already, flags

    a, b, already, flags = run_with_services(settings, action)
    if json_mode():
        emit_json({"user": str(a["_id"]), "other": str(b["_id"]), "changed": not already, **flags})
    elif already:
        note(f"{a['email']} {'already blocks' if blocked else 'does not block'} {b['email']}: nothing to do")
    else:
        say(f"{a['email']} {'blocks' if blocked else 'no longer blocks'} {b['email']}")


def block(ctx: typer.Context, user: str = typer.Argument(..., metavar="USER", help="Who blocks (email or id)"),
          other: str = typer.Argument(..., metavar="OTHER", help="Who is blocked (email or id)")) -> None:
    """USER blocks OTHER: neither can message the other any more."""
    _set_block(ctx, user, other, True)


def unblock(ctx: typer.Context, user: str = typer.Argument(..., metavar="USER", help="Who unblocks (email or id)"),
            other: str = typer.Argument(..., metavar="OTHER", help="Who is unblocked (email or id)")) -> None:
    """USER lifts their block of OTHER."""
    _set_block(ctx, user, other, False)


async def _chat(s: Services, chat: str) -> ChatDoc:
    found = await s.storage.chats.by_id(parse_id(chat, "chat id"))
    if found is None:
        raise NotFound(f"no chat {chat}")
    return found


def clear(
    ctx: typer.Context,
    chat: str = CHAT,
    for_user: Optional[str] = typer.Option(None, "--for", metavar="USER",
                                           help="Clear it as this participant would (email or id)"),
    all_: bool = typer.Option(False, "--all", help="Delete the chat and all its messages for both users"),
    yes: bool = YES,
    dry_run: bool = DRY_RUN,
) -> None:
    """Clear a chat on behalf of one participant (--for), or delete it for both (--all)."""
    if (for_user is None) == (not all_):
        fail("give exactly one of --for USER and --all", USAGE)
    settings = admin_settings(ctx)

    async def action(s: Services) -> str | None:
        found = await _chat(s, chat)
        if all_:
            messages, images = await chat_contents(s.storage.db, found["_id"])
            if dry_run:
                dry_run_report({"chat": chat, "messages": messages, "images": images},
                               f"would delete chat {chat} with {messages} message(s) and {images} image(s)")
                return None
            confirm(f"Delete chat {chat} and its {messages} message(s) for both users?", yes)
            await s.clearing.delete_chat(found["_id"])
            audit(s.settings, "clear --all", f"chat {chat}", messages=messages, images=images)
            return "deleted"
        user = await s.accounts.find_user(for_user or "")
        if user["_id"] not in found.get("participants", []):
            fail(f"{user['email']} is not a participant of chat {chat}")
        if dry_run:
            dry_run_report({"chat": chat, "for": user["email"]}, f"would clear chat {chat} for {user['email']}")
            return None
        outcome = await s.clearing.clear_chat(user["_id"], found["_id"])
        audit(s.settings, "clear --for", f"chat {chat}", user=user["email"], outcome=outcome)
        return outcome

    outcome = run_with_services(settings, action)
    if outcome is None:
        return
    if json_mode():
        emit_json({"chat": chat, "outcome": outcome})
    else:
        say(f"chat {chat} {outcome}")


@chats_app.command("list")
def chats_list(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, metavar="USER", help="Only chats of this user (email or id)"),
    page: int = typer.Option(1, min=1, show_default=True),
    limit: int = typer.Option(50, min=1, max=1000, show_default=True, help="Chats per page"),
    every: bool = ALL,
) -> None:
    """List chats with their participants and last activity."""

    async def action(s: Services) -> ChatOverview:
        who = await s.accounts.find_user(user) if user is not None else None
        if every:
            return await s.listings.chats_overview(who["_id"] if who else None, page=1, limit=EVERY_PAGE)
        return await s.listings.chats_overview(who["_id"] if who else None, page=page, limit=limit)

    overview = run_with_services(admin_settings(ctx), action)
    found = [chat_overview_view(c, overview.people) for c in overview.chats]
    if json_mode():
        emit_json({"total": overview.total, "chats": found})
        return
    emails = {p["_id"]: p["email"] or p["_id"] for r in found for p in r["participants"]}
    rows(("id", "participants", "last message", "cleared by"),
         [(r["_id"], " ".join(emails[p["_id"]] for p in r["participants"]), r["lastMessageAt"],
           emails.get(r["clearedBy"], r["clearedBy"])) for r in found],
         keep=("id", "participants"))
    shown_of(len(found), overview.total, "chats")
