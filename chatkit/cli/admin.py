"""``chatkit admin``: operator commands, as tables for people or ``--json`` for scripts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Column, Table

from chatkit.cli.common import JSON, admin_settings, console, emit_json, load_settings, read_password, run_with_services
from chatkit.domain.accounts import Accounts
from chatkit.domain.views import session_view, user_view
from chatkit.services import Services
from chatkit.storage.documents import SessionDoc, UserDoc

app = typer.Typer(help="Operator commands: users, sessions, blocks, chats, pushes.", no_args_is_help=True)
users_app = typer.Typer(help="Create, inspect, deactivate and ban users.", no_args_is_help=True)
app.add_typer(users_app, name="users")

ID_WIDTH = 24  # an ObjectId in hex
# Names and emails are user input: never read them as rich markup ("[/]" would crash,
# "[red]" would vanish) or as emoji codes.


@app.callback()
def admin_options(
    ctx: typer.Context,
    data_dir: Optional[Path] = typer.Option(None, help="Data dir of the server [env CHATKIT_DATA_DIR]"),
    mongo_url: Optional[str] = typer.Option(None, help="MongoDB URL [env CHATKIT_MONGO_URL]"),
    db_name: Optional[str] = typer.Option(None, help="Database name [env CHATKIT_DB_NAME]"),
) -> None:
    ctx.obj = load_settings(data_dir, mongo_url, db_name)



def _show_users(users: list[UserDoc], as_json: bool, total: int | None = None) -> None:
    views = [user_view(u) for u in users]
    if as_json:
        emit_json(views if total is None else {"total": total, "users": views})
        return
    table = Table(
        # An id is copied into the next command, so it is never cut or wrapped; the
        # other columns give way on a narrow terminal.
        Column("id", no_wrap=True, min_width=ID_WIDTH),
        Column("email", overflow="fold"), Column("name", overflow="fold"),
        "status", Column("created", no_wrap=True),
    )
    for v in views:
        table.add_row(v["_id"], v["email"], v["fullName"], _status(v), (v["createdAt"] or "")[:10])
    console.print(table)
    if total is not None and total > len(views):
        console.print(f"{len(views)} of {total} users shown")


def _status(view: dict[str, Any]) -> str:
    """One word per user, so the table fits 80 columns without cutting the id."""
    flags = [("banned" if view["isBlocked"] else ""), ("deactivated" if not view["isActive"] else "")]
    return ", ".join(f for f in flags if f) or "active"


def _done(user: UserDoc, as_json: bool, sentence: str, **extra: Any) -> None:
    if as_json:
        emit_json({**user_view(user), **extra})
    else:
        console.print(sentence)


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    email: str = typer.Option(..., help="Email address (login name)"),
    first_name: str = typer.Option(..., "--first-name", help="First name"),
    last_name: str = typer.Option(..., "--last-name", help="Last name"),
    password: Optional[str] = typer.Option(None, help="Password; prompted for (or read from stdin) if left out"),
    as_json: bool = JSON,
) -> None:
    """Create a user (also when open registration is switched off)."""
    secret = read_password(password)

    async def action(s: Services) -> UserDoc:
        return await s.accounts.create_user(first_name, last_name, email, secret)

    user = run_with_services(admin_settings(ctx), action)
    _done(user, as_json, f"created {user['email']} ({user['_id']})")


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    search: Optional[str] = typer.Option(None, help="Match names and email, case-insensitive"),
    page: int = typer.Option(1, min=1),
    limit: int = typer.Option(50, min=1, max=1000),
    as_json: bool = JSON,
) -> None:
    """List users, deactivated and banned ones included."""

    async def action(s: Services) -> tuple[list[UserDoc], int]:
        return await s.accounts.list_users(search=search, page=page, limit=limit)

    users, total = run_with_services(admin_settings(ctx), action)
    _show_users(users, as_json, total)


@users_app.command("show")
def users_show(ctx: typer.Context, user: str = typer.Argument(..., help="Email or id"), as_json: bool = JSON) -> None:
    """One user, with their open sessions."""

    async def action(s: Services) -> tuple[UserDoc, list[SessionDoc]]:
        doc = await s.accounts.find_user(user)
        return doc, await s.accounts.open_sessions(doc)

    doc, sessions = run_with_services(admin_settings(ctx), action)
    view = user_view(doc)
    session_views = [session_view(x) for x in sessions]
    if as_json:
        emit_json({**view, "sessions": session_views})
        return
    table = Table(show_header=False)
    for key in ("_id", "email", "fullName", "isActive", "isBlocked", "lang", "createdAt", "passwordChangedAt"):
        table.add_row(key, str(view[key]))
    table.add_row("blockedUsers", ", ".join(view["blockedUsers"]) or "-")
    table.add_row("open sessions", str(len(session_views)))
    console.print(table)


SetFlag = Callable[[Accounts, UserDoc, bool], Awaitable[UserDoc]]


def _user_action(name: str, doc: str, method: SetFlag, value: bool, sentence: str) -> None:
    def command(ctx: typer.Context, user: str = typer.Argument(..., help="Email or id"),
                as_json: bool = JSON) -> None:
        async def action(s: Services) -> UserDoc:
            target = await s.accounts.find_user(user)
            return await method(s.accounts, target, value)

        updated = run_with_services(admin_settings(ctx), action)
        _done(updated, as_json, sentence.format(email=updated["email"]))

    command.__doc__ = doc
    users_app.command(name)(command)


_user_action("deactivate", "Deactivate a user: their sessions stop working at once.", Accounts.set_active, False,
             "deactivated {email}")
_user_action("activate", "Reactivate a deactivated user.", Accounts.set_active, True, "activated {email}")
_user_action("ban", "Ban a user (isBlocked): their sessions stop working at once.", Accounts.set_banned, True,
             "banned {email}")
_user_action("unban", "Lift a ban.", Accounts.set_banned, False, "unbanned {email}")


@users_app.command("set-password")
def users_set_password(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Email or id"),
    password: Optional[str] = typer.Option(None, help="New password; prompted for (or read from stdin) if left out"),
    as_json: bool = JSON,
) -> None:
    """Set a new password; every session of the user ends."""
    secret = read_password(password, "New password")

    async def action(s: Services) -> UserDoc:
        return await s.accounts.set_password(await s.accounts.find_user(user), secret)

    updated = run_with_services(admin_settings(ctx), action)
    _done(updated, as_json, f"password of {updated['email']} changed; all sessions ended")


@users_app.command("logout")
def users_logout(ctx: typer.Context, user: str = typer.Argument(..., help="Email or id"), as_json: bool = JSON) -> None:
    """End every session of a user (all devices)."""

    async def action(s: Services) -> tuple[UserDoc, int]:
        target = await s.accounts.find_user(user)
        return target, await s.accounts.logout_everywhere(target)

    target, count = run_with_services(admin_settings(ctx), action)
    _done(target, as_json, f"ended {count} session(s) of {target['email']}", sessionsEnded=count)


from chatkit.cli import admin_chats, admin_media, admin_pushes  # noqa: E402  (command groups live in their own modules)

admin_chats.register(app)
admin_pushes.register(app)
admin_media.register(app)
