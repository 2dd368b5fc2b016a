"""What every admin command shares: reaching the data, failing clearly, asking first, auditing.

- ``admin_settings``: the settings from the global options (wherever they were given),
  then the environment.
- ``run_with_services``: run an action against the database a server would use,
  borrowing the server's mongod when one runs, and refusing (exit 3, nothing created)
  when the data dir or database holds no chatkit data: a typo must not silently create
  an empty database and print an empty table.
- ``reported_errors``: the one mapping from an exception to a line and an exit status.
- ``confirm``: destructive commands ask y/N on a terminal and need ``--yes`` elsewhere.
- ``audit``: every change an admin command makes goes through it, once, after it is
  done (the audit log hooks in here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import typer
from pymongo.errors import PyMongoError

from chatkit import mongod
from chatkit.cli.audit_log import operator_trail
from chatkit.cli.groups import given_globals
from chatkit.cli.output import (
    CONFLICT,
    FAILED,
    NOT_FOUND,
    UNREACHABLE,
    USAGE,
    emit_json,
    fail,
    json_mode,
    note,
    say,
)
from chatkit.domain.errors import ChatkitError, Conflict, NotFound
from chatkit.domain.notifier import RelayNotifier
from chatkit.errors import OperatorError
from chatkit.services import Services, build_services
from chatkit.settings import Settings
from chatkit.storage.database import Storage, describe_mongo_error, is_unavailable
from chatkit.storage.inventory import holds_chatkit_data

T = TypeVar("T")
SETTINGS_KEY = "chatkit.settings"
audit_log = logging.getLogger("chatkit.audit")

YES = typer.Option(False, "--yes", "-y", help="Do it without asking (needed when not run from a terminal)")
DRY_RUN = typer.Option(False, "--dry-run", help="Show what would change, change nothing")
ALL = typer.Option(False, "--all", help="Every row, not one page")
EVERY_PAGE = 10**9  # the page size of --all


def admin_settings(ctx: typer.Context) -> Settings:
    """Settings from the global options given anywhere on the line, then the environment."""
    root = ctx.find_root()
    cached = root.meta.get(SETTINGS_KEY)
    if isinstance(cached, Settings):
        return cached
    given = given_globals(ctx)
    settings = load_settings(given.get("data_dir"), given.get("mongo_url"), given.get("db_name"))
    root.meta[SETTINGS_KEY] = settings
    return settings


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """The one mapping from errors to a line on stderr and an exit status, for every command.

    Operator errors carry their own status (2 unusable settings, 4 database unreachable);
    "not found" exits 3, "already exists" 5, any other refusal 1. Messages are the
    operator's sentences, never an exception's class name.
    """
    try:
        yield
    except OperatorError as exc:
        fail(str(exc), exc.exit_code)
    except NotFound as exc:
        fail(exc.message, NOT_FOUND)
    except Conflict as exc:
        fail(exc.message, CONFLICT)
    except ChatkitError as exc:
        fail(exc.message)
    except PyMongoError as exc:  # the database went away mid-command, or refused a write
        if is_unavailable(exc):
            fail(f"MongoDB stopped answering: {describe_mongo_error(exc)}", UNREACHABLE)
        fail(f"MongoDB refused: {describe_mongo_error(exc)}")
    except OSError as exc:  # e.g. a data dir that cannot be created
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc))


def load_settings(data_dir: Path | None, mongo_url: str | None, db_name: str | None) -> Settings:
    with reported_errors():
        return Settings.load(dict(data_dir=data_dir, mongo_url=mongo_url, db_name=db_name))


def run_with_services(settings: Settings, action: Callable[[Services], Awaitable[T]], *,
                      create: bool = False) -> T:
    """Run ``action`` against the same data a server would use, running or not.

    Without a Mongo URL this borrows the server's mongod when one is up, else starts the
    data dir's mongod for the length of the command. Unless ``create`` (``users create``
    and ``restore``, which write on purpose), a data dir or database with no chatkit data
    is refused before anything is written.
    """
    local: mongod.LocalMongo | None = None
    url = settings.mongo_url
    with reported_errors():
        if not url and not create and not (settings.data_dir / "db").is_dir():
            fail(f"no chatkit data in {settings.data_dir}: check --data-dir (or CHATKIT_DATA_DIR); "
                 "`chatkit serve` creates it", NOT_FOUND)
        try:
            if not url:
                local = mongod.acquire(settings.data_dir, "admin")
                url = local.url
            return asyncio.run(_run(settings, url, action, create))
        finally:
            if local is not None:
                local.stop()


async def _run(settings: Settings, url: str, action: Callable[[Services], Awaitable[T]], create: bool) -> T:
    storage = await Storage.connect(url, settings.db_name)
    try:
        if not create and not await holds_chatkit_data(storage.db):
            where = "the database at --mongo-url" if settings.mongo_url else str(settings.data_dir)
            fail(f"no chatkit database {settings.db_name!r} in {where}: check --db-name (or CHATKIT_DB_NAME)"
                 + ("" if settings.mongo_url else " and --data-dir"), NOT_FOUND)
        if create and not await holds_chatkit_data(storage.db):
            note(f"database {settings.db_name!r} is new: creating it")
        with operator_trail(settings):  # audit lines to <data-dir>/audit.log, as the operator's
            await storage.ensure_indexes()
            services = build_services(settings, storage, RelayNotifier(storage))
            try:
                return await action(services)
            finally:
                await services.limits.close()  # the Redis client of the limits, if any
    finally:
        await storage.close()


def read_password(given: str | None, prompt: str = "Password") -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("no password given: pass --password or type it on standard input", USAGE)
        return line
    password: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password


def confirm(question: str, yes: bool) -> None:
    """Go on only if ``--yes`` was given or the person at the terminal says y."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question.rstrip('?')}: this cannot be undone; pass --yes to do it "
             "(nothing asks when not run from a terminal)", USAGE)
    if not typer.confirm(question, default=False, err=True):
        fail("nothing done", FAILED)


def dry_run_report(what: dict[str, Any], sentence: str) -> None:
    """What a ``--dry-run`` would have changed: JSON, or one sentence."""
    if json_mode():
        emit_json({"dryRun": True, **what})
    else:
        say(f"dry run: {sentence}; nothing changed")


def audit(settings: Settings, action: str, subject: str, **details: Any) -> None:
    """Record one admin action that changed something: what, on whom, where.

    Called once per change, after it succeeded, from inside the command's action (so
    within ``operator_trail``, which sends the line to the data dir's audit.log).
    """
    where = settings.db_name if settings.mongo_url else f"{settings.data_dir}:{settings.db_name}"
    extra = " ".join(f"{k}={v}" for k, v in details.items())
    audit_log.info("admin %s %s (%s)%s", action, subject, where, f" {extra}" if extra else "")
