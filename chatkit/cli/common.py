"""What every CLI command shares: failing with one clear line, and reaching the data."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, NoReturn, TypeVar

import typer
from rich.console import Console
from pymongo.errors import PyMongoError

from chatkit import mongod
from chatkit.domain.errors import ChatkitError
from chatkit.server.app import build_services
from chatkit.server.context import Services
from chatkit.server.runner import describe_mongo_error
from chatkit.settings import Settings, SettingsError
from chatkit.storage.database import DatabaseUnreachable, Storage
from chatkit.wire import jsonable

T = TypeVar("T")

JSON = typer.Option(False, "--json", help="Print JSON instead of a table")
# Names are user data: never read them as rich markup or emoji codes.
console = Console(markup=False, emoji=False, highlight=False)


def admin_settings(ctx: typer.Context) -> Settings:
    """The settings the ``admin`` group callback loaded (flags, then environment)."""
    found = ctx.obj if ctx.obj is not None else ctx.find_root().obj
    assert isinstance(found, Settings)
    return found


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), indent=2))


def load_settings(data_dir: Path | None, mongo_url: str | None, db_name: str | None) -> Settings:
    try:
        return Settings.load(dict(data_dir=data_dir, mongo_url=mongo_url, db_name=db_name))
    except SettingsError as exc:
        fail(str(exc), code=2)


def run_with_services(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``action`` against the same data a server would use, running or not.

    Without a Mongo URL this borrows the server's mongod when one is up, else starts the
    data dir's mongod for the length of the command.
    """
    local: mongod.LocalMongo | None = None
    url = settings.mongo_url
    try:
        if not url:
            local = mongod.acquire(settings.data_dir, "admin")
            url = local.url
        return asyncio.run(_run(settings, url, action))
    except mongod.MongodNotFound as exc:
        fail(str(exc), code=2)
    except (mongod.MongodError, DatabaseUnreachable) as exc:
        fail(str(exc))
    except ChatkitError as exc:
        fail(exc.message)
    except SettingsError as exc:
        fail(str(exc), code=2)
    except PyMongoError as exc:  # a bad URL, or the database went away mid-command
        fail(f"MongoDB: {describe_mongo_error(exc)}")
    except OSError as exc:  # e.g. a data dir that cannot be created
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    finally:
        if local is not None:
            local.stop()


async def _run(settings: Settings, url: str, action: Callable[[Services], Awaitable[T]]) -> T:
    storage = await Storage.connect(url, settings.db_name)
    try:
        await storage.ensure_indexes()
        return await action(build_services(settings, storage, relay_labels=True))
    finally:
        await storage.close()


def read_password(given: str | None, prompt: str = "Password") -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("no password given: pass --password or type it on standard input")
        return line
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
