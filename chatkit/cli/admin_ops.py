"""``chatkit admin stats``, ``backup DIR`` and ``restore DIR``: the database as a whole.

Backups need nothing but the database connection (the embedded mongod ships without
``mongodump``); ``chatkit.storage.backup`` says how they stay consistent while a server
writes. A restore refuses a database that holds data unless ``--yes`` replaces it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from chatkit.cli.common import YES, admin_settings, audit, confirm, reported_errors, run_with_services
from chatkit.cli.groups import env_help
from chatkit.cli.output import CONFLICT, FAILED, emit_json, fail, json_mode, pairs, say
from chatkit.services import Services
from chatkit.settings import Settings
from chatkit.storage import backup as backups
from chatkit.storage.inventory import Inventory, take_inventory
from chatkit.wire import now

DIR = typer.Argument(..., metavar="DIR", help="Backup directory")


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("backup")(backup)
    app.command("restore")(restore)


REDIS_URL = typer.Option(None, "--redis-url", metavar="URL",
                         help=env_help("The deployment's Redis, to count who is online", "CHATKIT_REDIS_URL"))


def stats(ctx: typer.Context, redis_url: Optional[str] = REDIS_URL) -> None:
    """Users, chats, messages, images, open sessions, who is online and the database's size.

    Who is online lives in the servers, not in the database: it is counted from the
    deployment's Redis when one is given (``--redis-url`` / ``CHATKIT_REDIS_URL``), else
    shown as unknown (null with --json).
    """
    settings = admin_settings(ctx)
    with reported_errors():
        if redis_url is not None:
            settings = dataclasses.replace(settings, redis_url=redis_url)
            settings.validate()

    async def action(s: Services) -> tuple[Inventory, int | str]:
        return await take_inventory(s.storage.db, now()), await _online_now(settings)

    inv, online = run_with_services(settings, action)
    if json_mode():
        emit_json({"users": inv.users, "activeUsers": inv.active_users, "bannedUsers": inv.banned_users,
                   "chats": inv.chats, "messages": inv.messages, "mediaFiles": inv.media_files,
                   "openSessions": inv.open_sessions, "onlineNow": online if isinstance(online, int) else None,
                   "dataBytes": inv.data_bytes, "storageBytes": inv.storage_bytes})
        return
    pairs([("users", inv.users), ("active users", inv.active_users), ("banned users", inv.banned_users),
           ("chats", inv.chats), ("messages", inv.messages), ("images", inv.media_files),
           ("open sessions", inv.open_sessions), ("online now", online),
           ("data size", _mib(inv.data_bytes)), ("size on disk", _mib(inv.storage_bytes))])


async def _online_now(settings: Settings) -> int | str:
    """Users with a socket on any server of the deployment, or why that is unknown."""
    if settings.redis_url is None:
        return "unknown (kept by the servers: give --redis-url or CHATKIT_REDIS_URL)"
    from chatkit.storage import redis_presence  # redis-py only when asked

    try:
        return await redis_presence.online_count(settings.redis_url, settings.redis_prefix)
    except redis_presence.SharedStateUnavailable as exc:
        return f"unknown ({exc})"


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def _summary(summary: backups.BackupSummary, verb: str) -> None:
    if json_mode():
        emit_json(backups.summary_view(summary))
        return
    say(f"{verb} {summary.directory}: {summary.count('users')} users, {summary.count('chats')} chats, "
        f"{summary.count('messages')} messages, {summary.count('media.files')} images"
        + ("" if summary.point_in_time else " (not a point-in-time copy: the MongoDB is not a replica set)"))


def backup(ctx: typer.Context, directory: Path = DIR) -> None:
    """Copy the whole database (users, chats, messages, images, indexes) into DIR, a new or
    empty directory. Safe while the server runs: the copy is one point in time."""
    settings = admin_settings(ctx)

    async def action(s: Services) -> backups.BackupSummary:
        try:
            made = await backups.backup(s.storage.db, directory)
        except backups.BackupError as exc:
            fail(str(exc), FAILED)
        audit(s.settings, "backup", str(directory))
        return made

    summary = run_with_services(settings, action)
    _summary(summary, "backed up into")


def restore(ctx: typer.Context, directory: Path = DIR, yes: bool = YES) -> None:
    """Load a backup made by `chatkit admin backup` into the database (a new data dir is fine).

    A database that already holds data is only replaced with --yes (asked on a terminal).
    Tokens stay valid only if the server keeps the same JWT secret (the data dir's
    jwt-secret file, or CHATKIT_JWT_SECRET).
    """
    settings = admin_settings(ctx)
    try:
        backups.read_manifest(directory)  # before anything is started or created
    except backups.BackupError as exc:
        fail(str(exc), FAILED)

    async def action(s: Services) -> backups.BackupSummary:
        present = await backups.existing_data(s.storage.db)
        if present and not yes:
            if not typer.get_text_stream("stdin").isatty():
                fail(f"database {settings.db_name!r} is not empty: pass --yes to replace it with the backup",
                     CONFLICT)
            confirm(f"Replace everything in database {settings.db_name!r} with the backup?", yes)
        try:
            loaded = await backups.restore(s.storage.db, directory)
        except backups.BackupError as exc:
            fail(str(exc), FAILED)
        audit(s.settings, "restore", str(directory), replaced=bool(present))
        return loaded

    summary = run_with_services(settings, action, create=True)
    _summary(summary, "restored from")
