"""``chatkit admin``: operator commands, as rows for people and pipes or ``--json`` for scripts.

The global options (``--data-dir``, ``--mongo-url``, ``--db-name``, ``--json``) work
before or after the subcommand (``groups.AdminGroup``). Commands that take users
accept several (``users ban A B C``): every one is looked up first, so a typo changes
nothing. Destructive ones ask first (``common.confirm``) and offer ``--dry-run``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Optional

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
    read_password,
    run_with_services,
)
from chatkit.cli.groups import AdminGroup, global_options
from chatkit.cli.output import emit_json, json_mode, pairs, rows, say, shown_of
from chatkit.domain.accounts import Accounts
from chatkit.domain.controls import unlock_logins_everywhere
from chatkit.domain.views import session_view, user_view
from chatkit.services import Services
from chatkit.storage.documents import SessionDoc, UserDoc
from chatkit.storage.erasure import ErasureCounts

app = typer.Typer(cls=AdminGroup, help="Operator commands: users, chats, pushes, media, stats, backups.",
                  no_args_is_help=True)
users_app = typer.Typer(cls=AdminGroup, help="Create, inspect, ban, log out, unlock and delete users.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")
app.callback()(global_options)
users_app.callback()(global_options)

USER = typer.Argument(..., metavar="USER", help="Email or id")
USERS = typer.Argument(..., metavar="USER", help="Emails or ids, one or more")


async def find_users(s: Services, refs: list[str]) -> list[UserDoc]:
    """Every named user, or ``NotFound`` for the first unknown one before anything changes."""
    found: list[UserDoc] = []
    for ref in refs:
        user = await s.accounts.find_user(ref)
        if all(u["_id"] != user["_id"] for u in found):
            found.append(user)
    return found


def _user_rows(views: list[dict[str, Any]]) -> None:
    rows(("email", "name", "status", "created", "id"),
         [(v["email"], v["fullName"], _status(v), (v["createdAt"] or "")[:10], v["_id"]) for v in views],
         keep=("email", "id"))


def _status(view: dict[str, Any]) -> str:
    flags = [("banned" if view["isBlocked"] else ""), ("deactivated" if not view["isActive"] else "")]
    return ", ".join(f for f in flags if f) or "active"


def _done(users: list[UserDoc], sentence: str, **extra: Any) -> None:
    """One line per user, or JSON: the user (one given) or a list (several)."""
    if json_mode():
        views = [{**user_view(u), **extra} for u in users]
        emit_json(views[0] if len(views) == 1 else views)
        return
    for user in users:
        say(sentence.format(email=user["email"]))


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    email: str = typer.Option(..., metavar="EMAIL", help="Email address (login name)"),
    first_name: str = typer.Option(..., "--first-name", metavar="NAME", help="First name"),
    last_name: str = typer.Option(..., "--last-name", metavar="NAME", help="Last name"),
    password: Optional[str] = typer.Option(None, metavar="PASSWORD",
                                           help="Password; prompted for (or read from stdin) if left out"),
) -> None:
    """Create a user (also when open registration is switched off)."""
    secret = read_password(password)
    settings = admin_settings(ctx)

    async def action(s: Services) -> UserDoc:
        made = await s.accounts.create_user(first_name, last_name, email, secret)
        audit(s.settings, "users create", made["email"], id=made["_id"])
        return made

    user = run_with_services(settings, action, create=True)
    _done([user], f"created {user['email']} ({user['_id']})")


@users_app.command("list")
def users_list(
    ctx: typer.Context,
    search: Optional[str] = typer.Option(None, metavar="TEXT", help="Match names and email, case-insensitive"),
    page: int = typer.Option(1, min=1, show_default=True),
    limit: int = typer.Option(50, min=1, max=1000, show_default=True, help="Users per page"),
    every: bool = ALL,
) -> None:
    """List users, deactivated and banned ones included."""

    async def action(s: Services) -> tuple[list[UserDoc], int]:
        if every:
            return await s.accounts.list_users(search=search, page=1, limit=EVERY_PAGE)
        return await s.accounts.list_users(search=search, page=page, limit=limit)

    users, total = run_with_services(admin_settings(ctx), action)
    views = [user_view(u) for u in users]
    if json_mode():
        emit_json({"total": total, "users": views})
        return
    _user_rows(views)
    shown_of(len(views), total, "users")


@users_app.command("show")
def users_show(ctx: typer.Context, user: str = USER) -> None:
    """One user, with their open sessions and whom they block."""

    async def action(s: Services) -> tuple[UserDoc, list[SessionDoc], list[str]]:
        doc = await s.accounts.find_user(user)
        blocked = await s.storage.users.by_ids(list(doc.get("blockedUsers", [])), {"email": 1})
        return doc, await s.accounts.open_sessions(doc), [str(b.get("email", b["_id"])) for b in blocked.values()]

    doc, sessions, blocked = run_with_services(admin_settings(ctx), action)
    view = user_view(doc)
    session_views = [session_view(x) for x in sessions]
    if json_mode():
        emit_json({**view, "sessions": session_views})
        return
    pairs([("email", view["email"]), ("id", view["_id"]), ("name", view["fullName"]),
           ("active", view["isActive"]), ("banned", view["isBlocked"]), ("lang", view["lang"]),
           ("email verified", view["isVerified"]),
           ("created", view["createdAt"]), ("password changed", view["passwordChangedAt"]),
           ("blocks", sorted(blocked)), ("open sessions", len(session_views))])


SetFlag = Callable[[Accounts, UserDoc, bool], Awaitable[UserDoc]]


def _flag_command(name: str, doc: str, method: SetFlag, value: bool, sentence: str) -> None:
    def command(ctx: typer.Context, users: list[str] = USERS) -> None:
        settings = admin_settings(ctx)

        async def action(s: Services) -> list[UserDoc]:
            done = []
            for target in await find_users(s, users):
                done.append(await method(s.accounts, target, value))
                audit(s.settings, f"users {name}", target["email"])
            return done

        updated = run_with_services(settings, action)
        _done(updated, sentence)

    command.__doc__ = doc
    users_app.command(name)(command)


_flag_command("deactivate", "Deactivate users: their sessions stop working at once.", Accounts.set_active, False,
              "deactivated {email}")
_flag_command("activate", "Reactivate deactivated users.", Accounts.set_active, True, "activated {email}")
_flag_command("ban", "Ban users (isBlocked): their sessions stop working at once.", Accounts.set_banned, True,
              "banned {email}")
_flag_command("unban", "Lift bans.", Accounts.set_banned, False, "unbanned {email}")


@users_app.command("set-password")
def users_set_password(
    ctx: typer.Context,
    user: str = USER,
    password: Optional[str] = typer.Option(None, metavar="PASSWORD",
                                           help="New password; prompted for (or read from stdin) if left out"),
) -> None:
    """Set a new password; every session of the user ends."""
    secret = read_password(password, "New password")
    settings = admin_settings(ctx)

    async def action(s: Services) -> UserDoc:
        changed = await s.accounts.set_password(await s.accounts.find_user(user), secret)
        audit(s.settings, "users set-password", changed["email"])
        return changed

    updated = run_with_services(settings, action)
    _done([updated], "password of {email} changed; all sessions ended")


@users_app.command("logout")
def users_logout(ctx: typer.Context, users: list[str] = USERS, yes: bool = YES, dry_run: bool = DRY_RUN) -> None:
    """End every session of users (all their devices)."""
    settings = admin_settings(ctx)

    async def action(s: Services) -> list[tuple[UserDoc, int]] | None:
        found = [(u, len(await s.accounts.open_sessions(u))) for u in await find_users(s, users)]
        if dry_run:
            dry_run_report({"sessions": {u["email"]: n for u, n in found}},
                           "would end " + ", ".join(f"{n} session(s) of {u['email']}" for u, n in found))
            return None
        confirm(f"Log {_names(u for u, _ in found)} out of every device?", yes)
        done = []
        for u, _ in found:
            done.append((u, await s.accounts.logout_everywhere(u)))
            audit(s.settings, "users logout", u["email"], sessions=done[-1][1])
        return done

    ended = run_with_services(settings, action)
    if ended is None:
        return
    if json_mode():
        views = [{**user_view(u), "sessionsEnded": n} for u, n in ended]
        emit_json(views[0] if len(views) == 1 else views)
        return
    for user, count in ended:
        say(f"ended {count} session(s) of {user['email']}")


def _names(users: Any) -> str:
    return ", ".join(u["email"] for u in users)


def _erasure_view(counts: ErasureCounts) -> dict[str, int]:
    return {"sessions": counts.sessions, "chats": counts.chats, "messages": counts.messages,
            "mediaFiles": counts.media_files, "pushes": counts.pushes}


def _erasure_sentence(counts: ErasureCounts) -> str:
    return (f"{counts.chats} chat(s) with {counts.messages} message(s) and {counts.media_files} image(s), "
            f"{counts.sessions} session(s), {counts.pushes} push(es)")


@users_app.command("delete")
def users_delete(ctx: typer.Context, users: list[str] = USERS, yes: bool = YES, dry_run: bool = DRY_RUN) -> None:
    """Erase users for good (GDPR): account, sessions, push tokens, and every chat they were
    in with all its messages and images. Their open apps are disconnected at once."""
    settings = admin_settings(ctx)

    async def action(s: Services) -> list[tuple[UserDoc, ErasureCounts]] | None:
        planned = [(u, await s.erasure.plan(u)) for u in await find_users(s, users)]
        if dry_run:
            dry_run_report({"users": {u["email"]: _erasure_view(c) for u, c in planned}},
                           "; ".join(f"would erase {u['email']}: {_erasure_sentence(c)}" for u, c in planned))
            return None
        confirm(f"Erase {_names(u for u, _ in planned)} and every chat they were in, for good?", yes)
        done = []
        for u, _ in planned:
            counts = await s.erasure.erase(u)
            audit(s.settings, "users delete", u["email"], id=u["_id"], chats=counts.chats, messages=counts.messages)
            done.append((u, counts))
        return done

    erased = run_with_services(settings, action)
    if erased is None:
        return
    if json_mode():
        views = [{"_id": str(u["_id"]), "email": u["email"], "erased": _erasure_view(c)} for u, c in erased]
        emit_json(views[0] if len(views) == 1 else views)
        return
    for user, counts in erased:
        say(f"erased {user['email']}: {_erasure_sentence(counts)}")


@users_app.command("unlock")
def users_unlock(ctx: typer.Context, users: list[str] = USERS) -> None:
    """Lift the failed-login throttle on users at once, in every running server."""
    settings = admin_settings(ctx)

    async def action(s: Services) -> list[UserDoc]:
        found = await find_users(s, users)
        for user in found:
            await unlock_logins_everywhere(s.accounts, user["email"])
            audit(s.settings, "users unlock", user["email"])
        return found

    unlocked = run_with_services(settings, action)
    _done(unlocked, "unlocked logins of {email} on every running server")


from chatkit.cli import admin_chats, admin_mails, admin_media, admin_ops, admin_pushes  # noqa: E402  (command groups live in their own modules)

admin_chats.register(app)
admin_pushes.register(app)
admin_media.register(app)
admin_ops.register(app)
admin_mails.register(app, users_app)
